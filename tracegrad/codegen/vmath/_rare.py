"""Rare slow paths that keep a loop vectorizable: an out-of-line call with masked vector variants.

A loop whose body holds a call to an ordinary function does not vectorize. LLVM's loop
vectorizer does accept a call whose callee names vector variants (the call-site attribute
"vector-function-abi-variant", LLVM's vector function ABI); for a call under a condition it
passes the lane mask to a *masked* variant. `rare_call(impl, symbol, nargs)` builds such a
call:

  - `<symbol>`: (double, ...) -> double, linkonce_odr, `memory(none)`, running impl (an
    njit-able Python function of nargs floats, compiled by Numba as an internal subroutine);
  - `<symbol>.v2/.v4/.v8`: (<N x double>, ..., <N x i1>) -> <N x double>, weak_odr (not
    dropped as unused before the vectorizer picks them), returning at once when no lane of the
    mask is set and otherwise calling `<symbol>.v<N>.slow`, which calls `<symbol>` on each set
    lane.

So `y = slow(x) if rare_condition else fast` costs one call per vector of lanes in the common
case and vectorizes; `impl` runs only for the lanes that need it. On x86-64 the masked variants
use LLVM's `preserve_allcc` calling convention (the vectorizer gives its call the variant's
convention), so the caller keeps its vector registers across the call instead of spilling and
reloading every live vector each iteration; the mask test needs no register and `.slow`
(preserve_allcc too) saves only what the lane calls clobber. Measured per element on AVX2, the
call with the C convention against preserve_allcc: 1.0 against 0.3 ns added to log_f64's loop,
sin_f64 3.2 -> 2.8 ns, pow_f64 6.2 -> 6.0 ns. Used by sin/cos float64 for |x| beyond
Cody-Waite's range, by sin/cos float32 beyond theirs and by pow_f64 for its special cases.
"""

from __future__ import annotations

from collections.abc import Callable

from llvmlite import binding as llvm
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload

_LANES = (2, 4, 8)
# the masked variants' calling convention: callee-saves every register where LLVM supports it.
# LLVM's loop vectorizer gives the call it emits the variant's convention (a mismatch would be
# undefined behaviour): test_vmath_rare_path_call_keeps_the_callers_registers checks it.
_CONVENTION = "preserve_allcc" if llvm.get_process_triple().startswith("x86_64") else ""


def _add_raw_attributes(fn: ir.Function, *names: str) -> None:
    for name in names:  # llvmlite validates attribute names against an old list
        set.add(fn.attributes, name)


def _define_scalar(context, module: ir.Module, impl: Callable, symbol: str,
                   nargs: int) -> ir.Function:
    dbl = ir.DoubleType()
    fn = cgutils.get_or_insert_function(module, ir.FunctionType(dbl, [dbl] * nargs), symbol)
    if fn.is_declaration:
        fn.linkage = "linkonce_odr"
        fn.attributes.add("noinline")
        fn.attributes.add("nounwind")
        _add_raw_attributes(fn, "willreturn", "memory(none)")
        builder = ir.IRBuilder(fn.append_basic_block("entry"))
        sig = types.float64(*[types.float64] * nargs)
        cres = context.compile_subroutine(builder, impl, sig)
        _, result = context.call_internal_no_propagate(builder, cres.fndesc, sig, list(fn.args))
        builder.ret(result)
    return fn


def _define_masked(module: ir.Module, scalar: ir.Function, lanes: int) -> ir.Function:
    name = f"{scalar.name}.v{lanes}"
    if name in module.globals:
        return module.globals[name]
    vty, nargs = ir.VectorType(ir.DoubleType(), lanes), len(scalar.args)
    fnty = ir.FunctionType(vty, [vty] * nargs + [ir.VectorType(ir.IntType(1), lanes)])
    slow = _define_lanes(module, scalar, f"{name}.slow", fnty, lanes)
    fn = ir.Function(module, fnty, name)
    fn.linkage = "weak_odr"
    fn.attributes.add("nounwind")
    fn.calling_convention = _CONVENTION
    *xs, mask = fn.args
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    none = builder.icmp_unsigned("==", builder.bitcast(mask, ir.IntType(lanes)),
                                 ir.Constant(ir.IntType(lanes), 0))
    with builder.if_then(none, likely=True):
        builder.ret(xs[0])  # lanes outside the mask are ignored: any value will do
    builder.ret(builder.call(slow, [*xs, mask]))  # the call takes slow's convention
    return fn


def _define_lanes(module: ir.Module, scalar: ir.Function, name: str, fnty: ir.FunctionType,
                  lanes: int) -> ir.Function:
    """The masked variant's slow part: `scalar` on each lane of the mask."""
    fn = ir.Function(module, fnty, name)
    fn.linkage = "linkonce_odr"
    fn.calling_convention = _CONVENTION
    for attribute in ("noinline", "nounwind", "cold"):
        fn.attributes.add(attribute)
    *xs, mask = fn.args
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    out = cgutils.alloca_once_value(builder, ir.Constant(fnty.return_type, None))
    for i in range(lanes):
        lane = ir.Constant(ir.IntType(32), i)
        with builder.if_then(builder.extract_element(mask, lane)):
            y = builder.call(scalar, [builder.extract_element(x, lane) for x in xs])
            builder.store(builder.insert_element(builder.load(out), y, lane), out)
    builder.ret(builder.load(out))
    return fn


def rare_call(impl: Callable[..., float], symbol: str, nargs: int = 1) -> Callable[..., float]:
    """A function of nargs float64 calling impl out of line, vectorizable under a branch.

    Under NUMBA_DISABLE_JIT (or from plain Python) it is impl itself.
    """

    def codegen(context, builder, sig, args):
        scalar = _define_scalar(context, builder.module, impl, symbol, nargs)
        masked = [_define_masked(builder.module, scalar, n) for n in _LANES]
        variants = ",".join(f"_ZGV_LLVM_M{n}{'v' * nargs}_{symbol}({fn.name})"
                            for n, fn in zip(_LANES, masked))
        _add_raw_attributes(scalar, f'"vector-function-abi-variant"="{variants}"')
        return builder.call(scalar, list(args))

    def typed(*args):
        return (types.float64(*args), codegen) if all(a == types.float64 for a in args) else None

    if nargs == 1:
        call_ir = intrinsic(lambda typingctx, x: typed(x))

        def call(x):
            return impl(x)

        overload(call, inline="always")(lambda x: (lambda x: call_ir(x)))
    else:
        call_ir = intrinsic(lambda typingctx, x, y: typed(x, y))

        def call(x, y):
            return impl(x, y)

        overload(call, inline="always")(lambda x, y: (lambda x, y: call_ir(x, y)))
    return call
