"""Eager-mode errors: the exception type and PyTorch's wording (checked against PyTorch 2.13,
`torch.` spelled `tracegrad.`), for the mistakes users make with autograd and tensors.

Eager errors are raised where the user calls into tracegrad, so the traceback's last user frame
is the user's line; `test_error_traceback_names_the_users_line` checks that.
"""

from __future__ import annotations

import re
import traceback

import pytest

import tracegrad

grad = tracegrad.autograd.grad

FREED = re.escape(
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you "
    "call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward "
    "through the graph a second time or if you need to access saved tensors after calling "
    "backward.")
LEAF_IN_PLACE = re.escape("a leaf Variable that requires grad is being used in an in-place "
                          "operation.")


def _leaf(values, dtype=tracegrad.float32):
    return tracegrad.tensor(values, dtype=dtype, requires_grad=True)


def _version_error(kind, shape, source, version, expected):
    return re.escape(f"one of the variables needed for gradient computation has been modified "
                     f"by an inplace operation: [tracegrad.{kind} {shape}]{source} is at version "
                     f"{version}; expected version {expected} instead.")


# ---- freed graphs ----

@pytest.mark.parametrize("build", [
    lambda x: (x * x).sum(),
    lambda x: x.exp().sum(),
    lambda x: x.sigmoid().sum(),
    lambda x: (x * tracegrad.tensor([3.0, 4.0])).sum(),
    lambda x: tracegrad.where(x > 0, x, tracegrad.zeros(2)).sum(),
    lambda x: x.clamp(min=0).sum(),
    lambda x: tracegrad.stack([x * x, x]).sum(),
    lambda x: (x * x).mean(),
], ids=["mul", "exp", "sigmoid", "mul_constant", "where", "clamp", "stack_of_mul",
        "mean_of_mul"])
def test_second_backward_through_freed_saved_values(build):
    x = _leaf([1.0, -1.0])
    y = build(x)
    y.backward()
    with pytest.raises(RuntimeError, match=FREED):
        y.backward()


def test_backward_after_autograd_grad_freed_the_graph():
    x = _leaf([1.0, 2.0])
    y = x.exp().sum()
    grad(y, x)
    with pytest.raises(RuntimeError, match=FREED):
        y.backward()


def test_seed_002_cat_backward_twice_without_retain_graph():
    w, x = _leaf([1.0]), _leaf([2.0])
    a, b = w + x, w + 1
    loss = tracegrad.cat([a * b, a + b], dim=0)
    loss.backward(gradient=tracegrad.tensor([1, 1]))
    with pytest.raises(RuntimeError, match=FREED):
        loss.backward(gradient=tracegrad.tensor([1, 2]))


# ---- in place ----

@pytest.mark.parametrize("change", [
    lambda x: x.add_(1), lambda x: x.sub_(1), lambda x: x.mul_(2), lambda x: x.div_(2),
    lambda x: x.zero_(), lambda x: x.fill_(3), lambda x: x.pow_(2), lambda x: x.clamp_(min=0),
    lambda x: x.copy_(tracegrad.zeros(2)), lambda x: x.__iadd__(1), lambda x: x.__isub__(1),
    lambda x: x.__imul__(2), lambda x: x.__itruediv__(2),
], ids=["add_", "sub_", "mul_", "div_", "zero_", "fill_", "pow_", "clamp_", "copy_", "iadd",
        "isub", "imul", "itruediv"])
def test_in_place_change_of_a_leaf_that_requires_grad(change):
    x = _leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=LEAF_IN_PLACE):
        change(x)
    assert x.tolist() == [1.0, 2.0] and x._version == 0


def test_augmented_assignment_on_a_leaf_that_requires_grad():
    x = _leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=LEAF_IN_PLACE):
        x += 1


def test_setitem_on_a_leaf_that_requires_grad():
    x = _leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=LEAF_IN_PLACE):
        x[0] = 5


def test_in_place_change_of_a_view_of_a_leaf_that_requires_grad():
    x = _leaf([1.0, 1.0, 1.0])
    with pytest.raises(RuntimeError, match=re.escape(
            "a view of a leaf Variable that requires grad is being used in an in-place "
            "operation.")):
        x[1:].mul_(2)


def test_saved_output_changed_in_place_names_op_and_versions():
    x = _leaf([1.0, 2.0])
    y = x.exp()
    y.add_(1)
    with pytest.raises(RuntimeError, match=_version_error("FloatTensor", "[2]",
                                                          ", which is output 0 of Exp,", 1, 0)):
        y.sum().backward()


def test_saved_output_changed_by_augmented_assignment():
    x = _leaf([1.0, 2.0], tracegrad.float64)
    y = x.exp()
    y += 1
    with pytest.raises(RuntimeError, match=_version_error("DoubleTensor", "[2]",
                                                          ", which is output 0 of Exp,", 1, 0)):
        y.sum().backward()


def test_saved_output_of_a_2d_op_changed_through_another_tensor():
    x = tracegrad.ones(2, 3, requires_grad=True)
    y = x.tanh()
    z = y * 1
    y.mul_(2)
    with pytest.raises(RuntimeError, match=_version_error("FloatTensor", "[2, 3]",
                                                          ", which is output 0 of Tanh,", 1, 0)):
        z.sum().backward()


def test_saved_input_changed_in_place():
    x0 = _leaf([1.0, 2.0])
    x = x0 * 1
    y = x.sin()
    x.mul_(2)
    with pytest.raises(RuntimeError, match=_version_error("FloatTensor", "[2]",
                                                          ", which is output 0 of Mul,", 1, 0)):
        y.sum().backward()


def test_saved_input_of_mul_changed_when_its_partner_needs_it():
    x0 = _leaf([1.0, 2.0])
    x = x0 * 1
    w = _leaf([3.0, 4.0])
    y = x * w
    x.add_(1)
    with pytest.raises(RuntimeError, match=_version_error("FloatTensor", "[2]",
                                                          ", which is output 0 of Add,", 1, 0)):
        y.sum().backward()


@pytest.mark.parametrize("under_no_grad", [False, True], ids=["grad_mode", "no_grad"])
def test_saved_leaf_constant_changed_in_place(under_no_grad):
    x, w = _leaf([1.0, 2.0]), tracegrad.tensor([3.0, 4.0])
    a = x * w
    if under_no_grad:
        with tracegrad.no_grad():
            w.add_(1)
    else:
        w.add_(1)
    with pytest.raises(RuntimeError, match=_version_error("FloatTensor", "[2]", "", 1, 0)):
        a.sum().backward()


def test_saved_leaf_that_requires_grad_changed_under_no_grad():
    x, w = _leaf([1.0, 2.0]), _leaf([3.0, 4.0])
    a = x * w
    with tracegrad.no_grad():
        w.add_(1)
    with pytest.raises(RuntimeError, match=_version_error("FloatTensor", "[2]", "", 1, 0)):
        a.sum().backward()


def test_saved_divisor_changed_in_place():
    x, d = _leaf([1.0, 2.0]), tracegrad.tensor([2.0, 4.0])
    y = x / d
    d.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_saved_view_changed_through_its_base():
    x0 = _leaf([1.0, 1.0])
    x = x0 * 1
    v = x.reshape(2, 1)
    w = tracegrad.ones(2, 1, requires_grad=True)
    y = (v * w).sum()
    x.add_(1)
    # PyTorch rebases the view and names AsStrided; tracegrad names the view's own op.
    with pytest.raises(RuntimeError, match=_version_error("FloatTensor", "[2, 1]",
                                                          ", which is output 0 of View,", 1, 0)):
        y.backward()


def test_output_written_by_an_in_place_op_then_changed_again():
    x, e = _leaf([1.0, 2.0]), _leaf(2.0)
    y = x + 0
    y.pow_(e)                                    # the exponent's gradient reads the output
    y.add_(1)
    with pytest.raises(RuntimeError, match=_version_error("FloatTensor", "[2]",
                                                          ", which is output 0 of Pow1,", 2, 1)):
        y.sum().backward()


def test_setitem_on_a_tensor_saved_by_a_later_op():
    a = _leaf([1.0, 2.0, 3.0])
    y = a * 2
    z = y * y
    y[1] = 0.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_in_place_result_dtype_that_cannot_be_cast():
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired "
                                           "output type Long"):
        tracegrad.ones(2, dtype=tracegrad.long).mul_(0.5)
    with pytest.raises(RuntimeError, match="result type Long can't be cast to the desired output "
                                           "type Bool"):
        tracegrad.ones(2, dtype=tracegrad.bool).add_(1)


def test_in_place_result_shape_that_does_not_fit():
    with pytest.raises(RuntimeError, match=re.escape(
            "output with shape [2] doesn't match the broadcast shape [3, 2]")):
        tracegrad.ones(2).add_(tracegrad.ones(3, 2))


def test_in_place_write_to_an_expanded_view():
    with pytest.raises(RuntimeError, match="unsupported operation.*clone\\(\\)"):
        tracegrad.ones(1, 2).expand(3, 2).add_(1)


def test_fill_with_a_tensor_that_is_not_zero_dimensional():
    with pytest.raises(RuntimeError, match="fill_ only supports 0-dimension value tensor but got "
                                           "tensor with 1 dimensions."):
        tracegrad.zeros(2).fill_(tracegrad.ones(2))


# ---- backward / autograd.grad arguments ----

def test_backward_of_a_non_scalar_without_gradient():
    x = _leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar "
                                           "outputs"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar "
                                           "outputs"):
        grad(x * 2, x)


@pytest.mark.parametrize(("out_shape", "grad_shape"), [((2,), (3,)), ((2,), ()), ((2, 3), (3, 2))])
def test_gradient_of_the_wrong_shape_names_both_shapes(out_shape, grad_shape):
    x = tracegrad.ones(*out_shape, requires_grad=True)
    message = re.escape(f"Mismatch in shape: grad_output[0] has a shape of "
                        f"tracegrad.Size({list(grad_shape)}) and output[0] has a shape of "
                        f"tracegrad.Size({list(out_shape)}).")
    with pytest.raises(RuntimeError, match=message):
        (x * 2).backward(tracegrad.ones(grad_shape))


def test_backward_of_a_tensor_that_does_not_require_grad():
    message = "element 0 of tensors does not require grad and does not have a grad_fn"
    with pytest.raises(RuntimeError, match=message):
        tracegrad.tensor([1.0, 2.0]).sum().backward()
    with pytest.raises(RuntimeError, match=message):
        (tracegrad.ones(2) * 2).backward(tracegrad.ones(2))
    with pytest.raises(RuntimeError, match=message):
        grad(_leaf([2.0]).long(), _leaf([1.0]))


def test_second_output_that_does_not_require_grad_is_named_by_index():
    x = _leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="element 1 of tensors does not require grad"):
        tracegrad.autograd.backward([(x * x).sum(), tracegrad.ones(2)], [None, tracegrad.ones(2)])


@pytest.mark.parametrize("gradient", [2.0, [1.0, 3.0]], ids=["float", "list"])
def test_gradient_that_is_not_a_tensor(gradient):
    # PyTorch's Tensor.backward(2.0) says "'float' object is not iterable"; the type is kept.
    x = _leaf([1.0, 2.0])
    with pytest.raises(TypeError, match="gradients can be either Tensors or None, but got"):
        (x * 2).backward(gradient)
    with pytest.raises(TypeError, match="gradients can be either Tensors or None, but got float"):
        grad(x * 2, x, [1.0])


def test_fewer_gradients_than_outputs():
    x = _leaf([1.0])
    with pytest.raises(RuntimeError, match="got 2 tensors and 1 gradients"):
        tracegrad.autograd.backward([x * 2, x * 3], [tracegrad.ones(1)])


def test_input_not_reached_without_allow_unused():
    x, w = _leaf([1.0]), _leaf([1.0])
    with pytest.raises(RuntimeError, match=re.escape(
            "The differentiated Tensor at index 1 appears to not have been used in the graph. "
            "Set allow_unused=True if this is the desired behavior.")):
        grad(x * 2, [x, w])


def test_materialize_grads_with_allow_unused_false():
    x = _leaf([1.0])
    with pytest.raises(ValueError, match=re.escape(
            "Expected allow_unused to be True or not passed when materialize_grads=True, but "
            "got: allow_unused=False.")):
        grad(x * 2, x, allow_unused=False, materialize_grads=True)


def test_input_that_does_not_require_grad():
    x = _leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="One of the differentiated Tensors does not require "
                                           "grad"):
        grad((x * x).sum(), [x, tracegrad.tensor([1.0])])


def test_empty_inputs():
    x = _leaf([1.0])
    with pytest.raises(RuntimeError, match=re.escape("`inputs` argument to `backward()` cannot "
                                                     "be empty.")):
        (x * 2).sum().backward(inputs=[])
    with pytest.raises(RuntimeError, match=re.escape("`inputs` argument to `grad()` cannot be "
                                                     "empty.")):
        grad(x * 2, [])


# ---- autograd state ----

@pytest.mark.parametrize("make", [
    lambda: tracegrad.tensor([1, 2], requires_grad=True),
    lambda: tracegrad.tensor([1, 2]).requires_grad_(),
    lambda: tracegrad.ones(2, dtype=tracegrad.long, requires_grad=True),
    lambda: tracegrad.arange(3).requires_grad_(),
    lambda: setattr(tracegrad.tensor([True]), "requires_grad", True),
], ids=["tensor", "requires_grad_", "ones", "arange", "setter"])
def test_integer_and_bool_tensors_cannot_require_grad(make):
    with pytest.raises(RuntimeError, match="(?i)only Tensors of floating point .*dtype can "
                                           "require gradients"):
        make()


def test_requires_grad_of_a_non_leaf_cannot_be_turned_off():
    x = _leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=re.escape(
            "you can only change requires_grad flags of leaf variables. If you want to use a "
            "computed variable in a subgraph that doesn't require differentiation use "
            "var_no_grad = var.detach().")):
        (x * 2).requires_grad_(False)


def test_retain_grad_and_hooks_need_requires_grad():
    with pytest.raises(RuntimeError, match="can't retain_grad on Tensor that has "
                                           "requires_grad=False"):
        tracegrad.tensor([1.0]).retain_grad()
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't "
                                           "require gradient"):
        tracegrad.tensor([1.0]).register_hook(lambda g: g)


def test_grad_setter_checks_type_shape_and_dtype():
    x = _leaf([1.0, 2.0])
    with pytest.raises(TypeError, match="assigned grad expected to be a Tensor or None but got "
                                        "grad of type list"):
        x.grad = [1.0, 2.0]
    with pytest.raises(RuntimeError, match=re.escape(
            "attempting to assign a gradient of size '[3]' to a tensor of size '[2]'. Please "
            "ensure that the gradient and the tensor are the same size")):
        x.grad = tracegrad.zeros(3)
    with pytest.raises(RuntimeError, match="attempting to assign a gradient with dtype "
                                           "'float64' to a tensor with dtype 'float32'"):
        x.grad = tracegrad.zeros(2, dtype=tracegrad.float64)
    assert x.grad is None


# ---- conversions ----

def test_numpy_of_a_tensor_that_requires_grad():
    with pytest.raises(RuntimeError, match=re.escape(
            "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
            "instead.")):
        tracegrad.ones(2, requires_grad=True).numpy()


def test_conversions_of_the_wrong_size():
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value is "
                                           "ambiguous"):
        bool(tracegrad.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(tracegrad.tensor(1.0))


def test_non_cpu_device():
    with pytest.raises(RuntimeError, match="tracegrad runs on the CPU only: expected device 'cpu', "
                                           "got 'cuda:1'"):
        tracegrad.ones(2, device="cuda:1")


def test_error_traceback_names_the_users_line():
    x = _leaf([1.0, 2.0])
    try:
        (x * 2).backward()                       # the line the user must see
    except RuntimeError as error:
        frames = traceback.extract_tb(error.__traceback__)
    user = [f for f in frames if f.filename == __file__]
    assert user and user[-1].line == "(x * 2).backward()                       # the line " \
                                     "the user must see"
