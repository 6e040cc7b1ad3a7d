"""Tensor reprs match PyTorch 2.13 byte for byte (dtype module spelled `tracegrad.`).

The expected strings were printed by reference PyTorch 2.13 (CPU) for the same values,
options and suffixes, with `torch.` replaced by `tracegrad.`; this file never imports torch.
Each case passes the suffixes the eager Tensor's __repr__ would pass for that tensor.
"""

from __future__ import annotations

import ast
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from tracegrad.runtime.printing import (
    format_tensor,
    get_printoptions,
    set_printoptions,
    shows_dtype,
)


@pytest.fixture(autouse=True)
def default_printoptions():
    set_printoptions(profile="default")
    yield
    set_printoptions(profile="default")


def _lines(*rows: str) -> str:
    return "\n".join(rows)


# (array, caller's suffixes, set_printoptions kwargs, PyTorch's repr)
PYTORCH_CASES = [
    pytest.param(
        np.array([6.0]),
        ("dtype=tracegrad.float64",),
        {},
        "tensor([6.], dtype=tracegrad.float64)",
        id="seed_float64_dtype_suffix",
    ),
    pytest.param(
        np.array(27.0, dtype=np.float32),
        ("grad_fn=<MeanBackward0>",),
        {},
        "tensor(27., grad_fn=<MeanBackward0>)",
        id="seed_0d_mean_grad_fn",
    ),
    pytest.param(
        np.full((2, 2), 4.5, dtype=np.float32),
        (),
        {},
        _lines(
            "tensor([[4.5000, 4.5000],",
            "        [4.5000, 4.5000]])",
        ),
        id="seed_fixed_2x2",
    ),
    pytest.param(
        np.ones((2, 2), dtype=np.float32),
        ("requires_grad=True",),
        {},
        _lines(
            "tensor([[1., 1.],",
            "        [1., 1.]], requires_grad=True)",
        ),
        id="seed_ones_requires_grad",
    ),
    pytest.param(
        np.full(3, 2.0, dtype=np.float32),
        (),
        {},
        "tensor([2., 2., 2.])",
        id="seed_twos",
    ),
    pytest.param(
        np.array([0.1, 1.5, 10.25, 123.456], dtype=np.float32),
        (),
        {},
        "tensor([1.0000e-01, 1.5000e+00, 1.0250e+01, 1.2346e+02])",
        id="mixed_magnitudes",
    ),
    pytest.param(
        np.array([-1.5, 2.25, -0.125], dtype=np.float32),
        (),
        {},
        "tensor([-1.5000,  2.2500, -0.1250])",
        id="negatives_fixed",
    ),
    pytest.param(
        np.array([-3.0, 0.0, 27.0], dtype=np.float32),
        (),
        {},
        "tensor([-3.,  0., 27.])",
        id="negative_integral_floats",
    ),
    pytest.param(
        np.array([0.1, 0.2, 0.3], dtype=np.float32),
        (),
        {},
        "tensor([0.1000, 0.2000, 0.3000])",
        id="float32_inexact_tenths",
    ),
    pytest.param(
        np.array([2.71828, 3.14159265, -0.00015], dtype=np.float32),
        (),
        {},
        "tensor([ 2.7183e+00,  3.1416e+00, -1.5000e-04])",
        id="rounding_to_precision",
    ),
    pytest.param(
        np.array([1e-05, 2e-05], dtype=np.float32),
        (),
        {},
        "tensor([1.0000e-05, 2.0000e-05])",
        id="sci_small_values",
    ),
    pytest.param(
        np.array([5e-05, 0.5], dtype=np.float32),
        (),
        {},
        "tensor([5.0000e-05, 5.0000e-01])",
        id="sci_min_below_1e-4",
    ),
    pytest.param(
        np.array([0.5, 2000.0], dtype=np.float32),
        (),
        {},
        "tensor([5.0000e-01, 2.0000e+03])",
        id="sci_ratio_above_1000",
    ),
    pytest.param(
        np.array([1.0, 5000.0], dtype=np.float32),
        (),
        {},
        "tensor([1.0000e+00, 5.0000e+03])",
        id="integral_ratio_above_1000_is_sci",
    ),
    pytest.param(
        np.array([1.0, 1000.0], dtype=np.float32),
        (),
        {},
        "tensor([   1., 1000.])",
        id="integral_ratio_exactly_1000_is_fixed",
    ),
    pytest.param(
        np.array([1.0, 1e9], dtype=np.float32),
        (),
        {},
        "tensor([1.0000e+00, 1.0000e+09])",
        id="integral_above_1e8_is_sci",
    ),
    pytest.param(
        np.array([3e9], dtype=np.float32),
        (),
        {},
        "tensor([3.0000e+09])",
        id="single_integral_above_1e8",
    ),
    pytest.param(
        np.array([1.23456789e-10, 3.0]),
        ("dtype=tracegrad.float64",),
        {},
        "tensor([1.2346e-10, 3.0000e+00], dtype=tracegrad.float64)",
        id="float64_sci_with_dtype",
    ),
    pytest.param(
        np.array([12345678.5, -1.25]),
        ("dtype=tracegrad.float64",),
        {},
        "tensor([ 1.2346e+07, -1.2500e+00], dtype=tracegrad.float64)",
        id="float64_large_fixed",
    ),
    pytest.param(
        np.array([1.5, np.nan, np.inf, -np.inf], dtype=np.float32),
        (),
        {},
        "tensor([1.5000,    nan,    inf,   -inf])",
        id="nan_and_infinities",
    ),
    pytest.param(
        np.array([np.nan, -np.inf, 0.0], dtype=np.float32),
        (),
        {},
        "tensor([nan, -inf, 0.])",
        id="only_nonfinite_and_zero_width_one",
    ),
    pytest.param(
        np.zeros(3, dtype=np.float32),
        (),
        {},
        "tensor([0., 0., 0.])",
        id="all_zeros",
    ),
    pytest.param(
        np.array([-0.0, 1.0], dtype=np.float32),
        (),
        {},
        "tensor([-0., 1.])",
        id="negative_zero_integral",
    ),
    pytest.param(
        np.array([-0.0, 0.5], dtype=np.float32),
        (),
        {},
        "tensor([-0.0000, 0.5000])",
        id="negative_zero_fixed",
    ),
    pytest.param(
        np.array([-0.0, 1e-07], dtype=np.float32),
        (),
        {},
        "tensor([-0.0000e+00, 1.0000e-07])",
        id="negative_zero_sci",
    ),
    pytest.param(
        np.array([np.nan, 1e-06, 1.0], dtype=np.float32),
        (),
        {},
        "tensor([       nan, 1.0000e-06, 1.0000e+00])",
        id="nan_in_sci_mode",
    ),
    pytest.param(
        np.array([[1.0, np.nan], [np.inf, -2.5]], dtype=np.float32),
        (),
        {},
        _lines(
            "tensor([[ 1.0000,     nan],",
            "        [    inf, -2.5000]])",
        ),
        id="nan_inf_2d",
    ),
    pytest.param(
        np.array(27.0, dtype=np.float32),
        (),
        {},
        "tensor(27.)",
        id="0d_float32_integral",
    ),
    pytest.param(
        np.array(4.5, dtype=np.float32),
        (),
        {},
        "tensor(4.5000)",
        id="0d_float32_fixed",
    ),
    pytest.param(
        np.array(1e-05, dtype=np.float32),
        (),
        {},
        "tensor(1.0000e-05)",
        id="0d_float32_sci",
    ),
    pytest.param(
        np.array(-0.0, dtype=np.float32),
        (),
        {},
        "tensor(-0.)",
        id="0d_float32_negative_zero",
    ),
    pytest.param(
        np.array(np.nan, dtype=np.float32),
        (),
        {},
        "tensor(nan)",
        id="0d_float32_nan",
    ),
    pytest.param(
        np.array(-np.inf, dtype=np.float32),
        (),
        {},
        "tensor(-inf)",
        id="0d_float32_neg_inf",
    ),
    pytest.param(
        np.array(2.5),
        ("dtype=tracegrad.float64",),
        {},
        "tensor(2.5000, dtype=tracegrad.float64)",
        id="0d_float64",
    ),
    pytest.param(
        np.array(2.5),
        ("dtype=tracegrad.float64", "requires_grad=True"),
        {},
        "tensor(2.5000, dtype=tracegrad.float64, requires_grad=True)",
        id="0d_float64_requires_grad",
    ),
    pytest.param(
        np.array(3.0, dtype=np.float16),
        ("dtype=tracegrad.float16",),
        {},
        "tensor(3., dtype=tracegrad.float16)",
        id="0d_float16",
    ),
    pytest.param(
        np.array(3, dtype=np.int32),
        ("dtype=tracegrad.int32",),
        {},
        "tensor(3, dtype=tracegrad.int32)",
        id="0d_int32",
    ),
    pytest.param(
        np.array(3, dtype=np.int64),
        (),
        {},
        "tensor(3)",
        id="0d_int64",
    ),
    pytest.param(
        np.array(-42, dtype=np.int64),
        (),
        {},
        "tensor(-42)",
        id="0d_int64_negative",
    ),
    pytest.param(
        np.array(True),
        (),
        {},
        "tensor(True)",
        id="0d_bool_true",
    ),
    pytest.param(
        np.array(False),
        (),
        {},
        "tensor(False)",
        id="0d_bool_false",
    ),
    pytest.param(
        np.array([1, 2, 3]),
        (),
        {},
        "tensor([1, 2, 3])",
        id="int64_vector",
    ),
    pytest.param(
        np.array([-100, 5, 42]),
        (),
        {},
        "tensor([-100,    5,   42])",
        id="int64_negative_widths",
    ),
    pytest.param(
        np.array([2**40, -1]),
        (),
        {},
        "tensor([1099511627776,            -1])",
        id="int64_large",
    ),
    pytest.param(
        np.array([7, -8], dtype=np.int32),
        ("dtype=tracegrad.int32",),
        {},
        "tensor([ 7, -8], dtype=tracegrad.int32)",
        id="int32_vector_dtype",
    ),
    pytest.param(
        np.arange(-4, 8).reshape(3, 4),
        (),
        {},
        _lines(
            "tensor([[-4, -3, -2, -1],",
            "        [ 0,  1,  2,  3],",
            "        [ 4,  5,  6,  7]])",
        ),
        id="int64_2d",
    ),
    pytest.param(
        np.array([[1, -100], [1000, 2]]),
        (),
        {},
        _lines(
            "tensor([[   1, -100],",
            "        [1000,    2]])",
        ),
        id="int64_2d_mixed_widths",
    ),
    pytest.param(
        np.arange(60, dtype=np.int32).reshape(2, 30) * 1000,
        ("dtype=tracegrad.int32",),
        {},
        _lines(
            "tensor([[    0,  1000,  2000,  3000,  4000,  5000,  6000,  7000,  8000,  9000,",
            "         10000, 11000, 12000, 13000, 14000, 15000, 16000, 17000, 18000, 19000,",
            "         20000, 21000, 22000, 23000, 24000, 25000, 26000, 27000, 28000, 29000],",
            "        [30000, 31000, 32000, 33000, 34000, 35000, 36000, 37000, 38000, 39000,",
            "         40000, 41000, 42000, 43000, 44000, 45000, 46000, 47000, 48000, 49000,",
            "         50000, 51000, 52000, 53000, 54000, 55000, 56000, 57000, 58000, 59000]],",
            "       dtype=tracegrad.int32)",
        ),
        id="int32_2d_wrapping_rows",
    ),
    pytest.param(
        np.array([True, False, True]),
        (),
        {},
        "tensor([ True, False,  True])",
        id="bool_vector",
    ),
    pytest.param(
        np.eye(2, dtype=bool),
        (),
        {},
        _lines(
            "tensor([[ True, False],",
            "        [False,  True]])",
        ),
        id="bool_2d",
    ),
    pytest.param(
        np.arange(24, dtype=np.float32).reshape(2, 3, 4),
        (),
        {},
        _lines(
            "tensor([[[ 0.,  1.,  2.,  3.],",
            "         [ 4.,  5.,  6.,  7.],",
            "         [ 8.,  9., 10., 11.]],",
            "",
            "        [[12., 13., 14., 15.],",
            "         [16., 17., 18., 19.],",
            "         [20., 21., 22., 23.]]])",
        ),
        id="3d_integral",
    ),
    pytest.param(
        np.arange(12, dtype=np.float32).reshape(2, 2, 3) / 4,
        (),
        {},
        _lines(
            "tensor([[[0.0000, 0.2500, 0.5000],",
            "         [0.7500, 1.0000, 1.2500]],",
            "",
            "        [[1.5000, 1.7500, 2.0000],",
            "         [2.2500, 2.5000, 2.7500]]])",
        ),
        id="3d_fixed",
    ),
    pytest.param(
        np.ones((2, 2, 2), dtype=np.float32),
        ("grad_fn=<MulBackward0>",),
        {},
        _lines(
            "tensor([[[1., 1.],",
            "         [1., 1.]],",
            "",
            "        [[1., 1.],",
            "         [1., 1.]]], grad_fn=<MulBackward0>)",
        ),
        id="3d_grad_fn",
    ),
    pytest.param(
        np.arange(16).reshape(2, 2, 2, 2),
        (),
        {},
        _lines(
            "tensor([[[[ 0,  1],",
            "          [ 2,  3]],",
            "",
            "         [[ 4,  5],",
            "          [ 6,  7]]],",
            "",
            "",
            "        [[[ 8,  9],",
            "          [10, 11]],",
            "",
            "         [[12, 13],",
            "          [14, 15]]]])",
        ),
        id="4d_int64",
    ),
    pytest.param(
        np.array([[1.5], [2.5]], dtype=np.float32),
        (),
        {},
        _lines(
            "tensor([[1.5000],",
            "        [2.5000]])",
        ),
        id="column_vector",
    ),
    pytest.param(
        np.arange(5, dtype=np.float32).reshape(1, 5),
        (),
        {},
        "tensor([[0., 1., 2., 3., 4.]])",
        id="row_1xn",
    ),
    pytest.param(
        np.arange(9, dtype=np.float32).reshape(3, 3) * 0.5,
        ("grad_fn=<MulBackward0>",),
        {},
        _lines(
            "tensor([[0.0000, 0.5000, 1.0000],",
            "        [1.5000, 2.0000, 2.5000],",
            "        [3.0000, 3.5000, 4.0000]], grad_fn=<MulBackward0>)",
        ),
        id="3x3_grad_fn_on_last_line",
    ),
    pytest.param(
        np.arange(30, dtype=np.float32) / 7,
        (),
        {},
        _lines(
            "tensor([0.0000, 0.1429, 0.2857, 0.4286, 0.5714, 0.7143, 0.8571, 1.0000, 1.1429,",
            "        1.2857, 1.4286, 1.5714, 1.7143, 1.8571, 2.0000, 2.1429, 2.2857, 2.4286,",
            "        2.5714, 2.7143, 2.8571, 3.0000, 3.1429, 3.2857, 3.4286, 3.5714, 3.7143,",
            "        3.8571, 4.0000, 4.1429])",
        ),
        id="long_1d_fixed_wraps",
    ),
    pytest.param(
        np.arange(40),
        (),
        {},
        _lines(
            "tensor([ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16, 17,",
            "        18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35,",
            "        36, 37, 38, 39])",
        ),
        id="long_1d_int_wraps",
    ),
    pytest.param(
        np.arange(40, dtype=np.float32).reshape(2, 20) * 1.5,
        (),
        {},
        _lines(
            "tensor([[ 0.0000,  1.5000,  3.0000,  4.5000,  6.0000,  7.5000,  9.0000, 10.5000,",
            "         12.0000, 13.5000, 15.0000, 16.5000, 18.0000, 19.5000, 21.0000, 22.5000,",
            "         24.0000, 25.5000, 27.0000, 28.5000],",
            "        [30.0000, 31.5000, 33.0000, 34.5000, 36.0000, 37.5000, 39.0000, 40.5000,",
            "         42.0000, 43.5000, 45.0000, 46.5000, 48.0000, 49.5000, 51.0000, 52.5000,",
            "         54.0000, 55.5000, 57.0000, 58.5000]])",
        ),
        id="long_2d_rows_wrap",
    ),
    pytest.param(
        np.linspace(0, 1, 11, dtype=np.float32),
        ("grad_fn=<MulBackward0>",),
        {},
        _lines(
            "tensor([0.0000, 0.1000, 0.2000, 0.3000, 0.4000, 0.5000, 0.6000, 0.7000, 0.8000,",
            "        0.9000, 1.0000], grad_fn=<MulBackward0>)",
        ),
        id="long_row_grad_fn_wraps",
    ),
    pytest.param(
        np.linspace(0, 1, 11),
        ("dtype=tracegrad.float64", "requires_grad=True"),
        {},
        _lines(
            "tensor([0.0000, 0.1000, 0.2000, 0.3000, 0.4000, 0.5000, 0.6000, 0.7000, 0.8000,",
            "        0.9000, 1.0000], dtype=tracegrad.float64, requires_grad=True)",
        ),
        id="long_row_float64_requires_grad",
    ),
    pytest.param(
        np.arange(25, dtype=np.float32) * 1.5,
        ("requires_grad=True",),
        {},
        _lines(
            "tensor([ 0.0000,  1.5000,  3.0000,  4.5000,  6.0000,  7.5000,  9.0000, 10.5000,",
            "        12.0000, 13.5000, 15.0000, 16.5000, 18.0000, 19.5000, 21.0000, 22.5000,",
            "        24.0000, 25.5000, 27.0000, 28.5000, 30.0000, 31.5000, 33.0000, 34.5000,",
            "        36.0000], requires_grad=True)",
        ),
        id="multiline_requires_grad",
    ),
    pytest.param(
        np.array([1.5, 2.5, 3.5, 4.5, 5.5, 6.5]),
        ("dtype=tracegrad.float64",),
        {},
        "tensor([1.5000, 2.5000, 3.5000, 4.5000, 5.5000, 6.5000], dtype=tracegrad.float64)",
        id="float64_suffix_fits_as_torch",
    ),
    pytest.param(
        np.array([1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.0]),
        ("dtype=tracegrad.float64", "requires_grad=True"),
        {},
        _lines(
            "tensor([1.5000, 2.5000, 3.5000, 4.5000, 5.5000, 6.5000, 7.0000],",
            "       dtype=tracegrad.float64, requires_grad=True)",
        ),
        id="float64_suffix_just_wraps",
    ),
    pytest.param(
        np.array([1.5, 2.5, 3.5, 4.5, 5.5]),
        ("dtype=tracegrad.float64", "requires_grad=True"),
        {},
        _lines(
            "tensor([1.5000, 2.5000, 3.5000, 4.5000, 5.5000], dtype=tracegrad.float64,",
            "       requires_grad=True)",
        ),
        id="two_suffixes_second_wraps",
    ),
    pytest.param(
        np.arange(1001, dtype=np.float32),
        (),
        {},
        "tensor([   0.,    1.,    2.,  ...,  998.,  999., 1000.])",
        id="summarize_1d_1001",
    ),
    pytest.param(
        np.arange(1200),
        (),
        {},
        "tensor([   0,    1,    2,  ..., 1197, 1198, 1199])",
        id="summarize_1d_ints",
    ),
    pytest.param(
        np.arange(1200, dtype=np.float32).reshape(40, 30),
        (),
        {},
        _lines(
            "tensor([[0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 2.7000e+01, 2.8000e+01,",
            "         2.9000e+01],",
            "        [3.0000e+01, 3.1000e+01, 3.2000e+01,  ..., 5.7000e+01, 5.8000e+01,",
            "         5.9000e+01],",
            "        [6.0000e+01, 6.1000e+01, 6.2000e+01,  ..., 8.7000e+01, 8.8000e+01,",
            "         8.9000e+01],",
            "        ...,",
            "        [1.1100e+03, 1.1110e+03, 1.1120e+03,  ..., 1.1370e+03, 1.1380e+03,",
            "         1.1390e+03],",
            "        [1.1400e+03, 1.1410e+03, 1.1420e+03,  ..., 1.1670e+03, 1.1680e+03,",
            "         1.1690e+03],",
            "        [1.1700e+03, 1.1710e+03, 1.1720e+03,  ..., 1.1970e+03, 1.1980e+03,",
            "         1.1990e+03]])",
        ),
        id="summarize_2d",
    ),
    pytest.param(
        np.arange(1200, dtype=np.float32).reshape(600, 2) / 3,
        (),
        {},
        _lines(
            "tensor([[0.0000e+00, 3.3333e-01],",
            "        [6.6667e-01, 1.0000e+00],",
            "        [1.3333e+00, 1.6667e+00],",
            "        ...,",
            "        [3.9800e+02, 3.9833e+02],",
            "        [3.9867e+02, 3.9900e+02],",
            "        [3.9933e+02, 3.9967e+02]])",
        ),
        id="summarize_2d_narrow_rows",
    ),
    pytest.param(
        np.arange(2000).reshape(10, 10, 20),
        (),
        {},
        _lines(
            "tensor([[[   0,    1,    2,  ...,   17,   18,   19],",
            "         [  20,   21,   22,  ...,   37,   38,   39],",
            "         [  40,   41,   42,  ...,   57,   58,   59],",
            "         ...,",
            "         [ 140,  141,  142,  ...,  157,  158,  159],",
            "         [ 160,  161,  162,  ...,  177,  178,  179],",
            "         [ 180,  181,  182,  ...,  197,  198,  199]],",
            "",
            "        [[ 200,  201,  202,  ...,  217,  218,  219],",
            "         [ 220,  221,  222,  ...,  237,  238,  239],",
            "         [ 240,  241,  242,  ...,  257,  258,  259],",
            "         ...,",
            "         [ 340,  341,  342,  ...,  357,  358,  359],",
            "         [ 360,  361,  362,  ...,  377,  378,  379],",
            "         [ 380,  381,  382,  ...,  397,  398,  399]],",
            "",
            "        [[ 400,  401,  402,  ...,  417,  418,  419],",
            "         [ 420,  421,  422,  ...,  437,  438,  439],",
            "         [ 440,  441,  442,  ...,  457,  458,  459],",
            "         ...,",
            "         [ 540,  541,  542,  ...,  557,  558,  559],",
            "         [ 560,  561,  562,  ...,  577,  578,  579],",
            "         [ 580,  581,  582,  ...,  597,  598,  599]],",
            "",
            "        ...,",
            "",
            "        [[1400, 1401, 1402,  ..., 1417, 1418, 1419],",
            "         [1420, 1421, 1422,  ..., 1437, 1438, 1439],",
            "         [1440, 1441, 1442,  ..., 1457, 1458, 1459],",
            "         ...,",
            "         [1540, 1541, 1542,  ..., 1557, 1558, 1559],",
            "         [1560, 1561, 1562,  ..., 1577, 1578, 1579],",
            "         [1580, 1581, 1582,  ..., 1597, 1598, 1599]],",
            "",
            "        [[1600, 1601, 1602,  ..., 1617, 1618, 1619],",
            "         [1620, 1621, 1622,  ..., 1637, 1638, 1639],",
            "         [1640, 1641, 1642,  ..., 1657, 1658, 1659],",
            "         ...,",
            "         [1740, 1741, 1742,  ..., 1757, 1758, 1759],",
            "         [1760, 1761, 1762,  ..., 1777, 1778, 1779],",
            "         [1780, 1781, 1782,  ..., 1797, 1798, 1799]],",
            "",
            "        [[1800, 1801, 1802,  ..., 1817, 1818, 1819],",
            "         [1820, 1821, 1822,  ..., 1837, 1838, 1839],",
            "         [1840, 1841, 1842,  ..., 1857, 1858, 1859],",
            "         ...,",
            "         [1940, 1941, 1942,  ..., 1957, 1958, 1959],",
            "         [1960, 1961, 1962,  ..., 1977, 1978, 1979],",
            "         [1980, 1981, 1982,  ..., 1997, 1998, 1999]]])",
        ),
        id="summarize_3d",
    ),
    pytest.param(
        np.concatenate([np.ones(3), np.full(1000, 123456.5), np.ones(3)]).astype(np.float32),
        (),
        {},
        "tensor([1., 1., 1.,  ..., 1., 1., 1.])",
        id="summarize_width_from_shown_only",
    ),
    pytest.param(
        np.linspace(-1, 1, 2001),
        ("dtype=tracegrad.float64", "requires_grad=True"),
        {},
        _lines(
            "tensor([-1.0000, -0.9990, -0.9980,  ...,  0.9980,  0.9990,  1.0000],",
            "       dtype=tracegrad.float64, requires_grad=True)",
        ),
        id="summarize_float64_requires_grad",
    ),
    pytest.param(
        np.arange(1500, dtype=np.float32).reshape(30, 50) * 0.25,
        ("grad_fn=<MulBackward0>",),
        {},
        _lines(
            "tensor([[0.0000e+00, 2.5000e-01, 5.0000e-01,  ..., 1.1750e+01, 1.2000e+01,",
            "         1.2250e+01],",
            "        [1.2500e+01, 1.2750e+01, 1.3000e+01,  ..., 2.4250e+01, 2.4500e+01,",
            "         2.4750e+01],",
            "        [2.5000e+01, 2.5250e+01, 2.5500e+01,  ..., 3.6750e+01, 3.7000e+01,",
            "         3.7250e+01],",
            "        ...,",
            "        [3.3750e+02, 3.3775e+02, 3.3800e+02,  ..., 3.4925e+02, 3.4950e+02,",
            "         3.4975e+02],",
            "        [3.5000e+02, 3.5025e+02, 3.5050e+02,  ..., 3.6175e+02, 3.6200e+02,",
            "         3.6225e+02],",
            "        [3.6250e+02, 3.6275e+02, 3.6300e+02,  ..., 3.7425e+02, 3.7450e+02,",
            "         3.7475e+02]], grad_fn=<MulBackward0>)",
        ),
        id="summarize_grad_fn",
    ),
    pytest.param(
        np.zeros(0, dtype=np.float32),
        (),
        {},
        "tensor([])",
        id="empty_1d",
    ),
    pytest.param(
        np.zeros((0, 3), dtype=np.float32),
        (),
        {},
        "tensor([], size=(0, 3))",
        id="empty_2d_size",
    ),
    pytest.param(
        np.zeros((2, 0, 4), dtype=np.float32),
        (),
        {},
        "tensor([], size=(2, 0, 4))",
        id="empty_3d_size",
    ),
    pytest.param(
        np.zeros(0, dtype=np.int64),
        ("dtype=tracegrad.int64",),
        {},
        "tensor([], dtype=tracegrad.int64)",
        id="empty_int64_shows_dtype",
    ),
    pytest.param(
        np.zeros((2, 0), dtype=np.int64),
        ("dtype=tracegrad.int64",),
        {},
        "tensor([], size=(2, 0), dtype=tracegrad.int64)",
        id="empty_2d_int64_size_then_dtype",
    ),
    pytest.param(
        np.zeros(0, dtype=bool),
        ("dtype=tracegrad.bool",),
        {},
        "tensor([], dtype=tracegrad.bool)",
        id="empty_bool_shows_dtype",
    ),
    pytest.param(
        np.zeros(0),
        ("dtype=tracegrad.float64", "requires_grad=True"),
        {},
        "tensor([], dtype=tracegrad.float64, requires_grad=True)",
        id="empty_float64_requires_grad",
    ),
    pytest.param(
        np.zeros((0, 3)),
        ("dtype=tracegrad.float64", "requires_grad=True"),
        {},
        "tensor([], size=(0, 3), dtype=tracegrad.float64, requires_grad=True)",
        id="empty_2d_float64_requires_grad",
    ),
    pytest.param(
        np.array([1.5, 2.0, 0.1], dtype=np.float16),
        ("dtype=tracegrad.float16",),
        {},
        "tensor([1.5000, 2.0000, 0.1000], dtype=tracegrad.float16)",
        id="float16_fixed",
    ),
    pytest.param(
        np.array([1.0, 2048.0], dtype=np.float16),
        ("dtype=tracegrad.float16",),
        {},
        "tensor([1.0000e+00, 2.0480e+03], dtype=tracegrad.float16)",
        id="float16_integral",
    ),
    pytest.param(
        np.array([0.0001, 60000.0], dtype=np.float16),
        ("dtype=tracegrad.float16",),
        {},
        "tensor([1.0002e-04, 6.0000e+04], dtype=tracegrad.float16)",
        id="float16_sci",
    ),
    pytest.param(
        np.array([0.333, -1.0], dtype=np.float16),
        ("dtype=tracegrad.float16", "requires_grad=True"),
        {},
        "tensor([ 0.3330, -1.0000], dtype=tracegrad.float16, requires_grad=True)",
        id="float16_requires_grad",
    ),
    pytest.param(
        np.array([1.2345, 6.789], dtype=np.float32),
        (),
        {"precision": 2},
        "tensor([1.23, 6.79])",
        id="precision_2",
    ),
    pytest.param(
        np.array([1e-05, 1.0], dtype=np.float32),
        (),
        {"precision": 2},
        "tensor([1.00e-05, 1.00e+00])",
        id="precision_2_sci",
    ),
    pytest.param(
        np.array([1.5, 2.25], dtype=np.float32),
        (),
        {"precision": 0},
        "tensor([2, 2])",
        id="precision_0",
    ),
    pytest.param(
        np.array([np.pi, np.e]),
        ("dtype=tracegrad.float64",),
        {"precision": 8},
        "tensor([3.14159265, 2.71828183], dtype=tracegrad.float64)",
        id="precision_8_float64",
    ),
    pytest.param(
        np.array([1.5, 100.0], dtype=np.float32),
        (),
        {"sci_mode": True},
        "tensor([1.5000e+00, 1.0000e+02])",
        id="sci_mode_true_fixed_values",
    ),
    pytest.param(
        np.array([-1.0, 100.0], dtype=np.float32),
        (),
        {"sci_mode": True},
        "tensor([-1.0000e+00,  1.0000e+02])",
        id="sci_mode_true_integral",
    ),
    pytest.param(
        np.array(-904567.3, dtype=np.float32),
        (),
        {"sci_mode": True},
        "tensor(-9.0457e+05)",
        id="sci_mode_true_0d",
    ),
    pytest.param(
        np.zeros(2, dtype=np.float32),
        (),
        {"sci_mode": True},
        "tensor([0., 0.])",
        id="sci_mode_true_zeros_ignored",
    ),
    pytest.param(
        np.array([-1.5e-05, 1.0], dtype=np.float32),
        (),
        {"sci_mode": False},
        "tensor([-0.0000,  1.0000])",
        id="sci_mode_false_small",
    ),
    pytest.param(
        np.array([1.0, 1e9], dtype=np.float32),
        (),
        {"sci_mode": False},
        "tensor([         1., 1000000000.])",
        id="sci_mode_false_large_integral",
    ),
    pytest.param(
        np.array([1.5, 1e9], dtype=np.float32),
        (),
        {"sci_mode": False},
        "tensor([         1.5000, 1000000000.0000])",
        id="sci_mode_false_large_fixed",
    ),
    pytest.param(
        np.arange(20, dtype=np.float32),
        (),
        {"linewidth": 40},
        _lines(
            "tensor([ 0.,  1.,  2.,  3.,  4.,  5.,",
            "         6.,  7.,  8.,  9., 10., 11.,",
            "        12., 13., 14., 15., 16., 17.,",
            "        18., 19.])",
        ),
        id="linewidth_40",
    ),
    pytest.param(
        np.arange(5, dtype=np.float32),
        ("requires_grad=True",),
        {"linewidth": 40},
        _lines(
            "tensor([0., 1., 2., 3., 4.],",
            "       requires_grad=True)",
        ),
        id="linewidth_40_suffix_wraps",
    ),
    pytest.param(
        np.arange(1200, dtype=np.float32),
        (),
        {"linewidth": 30},
        _lines(
            "tensor([0.0000e+00,",
            "        1.0000e+00,",
            "        2.0000e+00,",
            "         ...,",
            "        1.1970e+03,",
            "        1.1980e+03,",
            "        1.1990e+03])",
        ),
        id="linewidth_30_summarized",
    ),
    pytest.param(
        np.arange(12, dtype=np.float32).reshape(3, 4),
        (),
        {"edgeitems": 1, "threshold": 3},
        _lines(
            "tensor([[ 0.,  ...,  3.],",
            "        ...,",
            "        [ 8.,  ..., 11.]])",
        ),
        id="edgeitems_1_threshold_3",
    ),
    pytest.param(
        np.arange(6),
        (),
        {"threshold": 6},
        "tensor([0, 1, 2, 3, 4, 5])",
        id="threshold_6_not_exceeded",
    ),
    pytest.param(
        np.arange(7),
        (),
        {"threshold": 6, "edgeitems": 2},
        "tensor([0, 1,  ..., 5, 6])",
        id="threshold_6_exceeded",
    ),
    pytest.param(
        np.arange(1200, dtype=np.float32) / 3,
        (),
        {"profile": "short"},
        "tensor([0.00e+00, 3.33e-01,  ..., 3.99e+02, 4.00e+02])",
        id="profile_short",
    ),
    pytest.param(
        np.arange(12, dtype=np.float32).reshape(3, 4) / 3,
        (),
        {"profile": "short"},
        _lines(
            "tensor([[0.00, 0.33, 0.67, 1.00],",
            "        [1.33, 1.67, 2.00, 2.33],",
            "        [2.67, 3.00, 3.33, 3.67]])",
        ),
        id="profile_short_2d",
    ),
    pytest.param(
        np.arange(1200, dtype=np.float32) / 3,
        (),
        {"profile": "short", "precision": 3},
        "tensor([0.000e+00, 3.333e-01,  ..., 3.993e+02, 3.997e+02])",
        id="profile_then_override",
    ),
    pytest.param(
        np.array([1.0, 2.0], dtype=np.float32),
        (),
        {"edgeitems": 0},
        "tensor([1., 2.], size=(2,))",
        id="edgeitems_0_adds_size",
    ),
    pytest.param(
        np.arange(10, dtype=np.float32),
        (),
        {"edgeitems": 0, "threshold": 5},
        "tensor([...], size=(10,))",
        id="edgeitems_0_summarized",
    ),
    pytest.param(
        np.ones((2, 2)),
        ("dtype=tracegrad.float64", "requires_grad=True"),
        {"edgeitems": 0},
        _lines(
            "tensor([[1., 1.],",
            "        [1., 1.]], size=(2, 2), dtype=tracegrad.float64, requires_grad=True)",
        ),
        id="edgeitems_0_2d_dtype",
    ),
    pytest.param(
        np.array(3.0, dtype=np.float32),
        (),
        {"edgeitems": 0},
        "tensor(3., size=())",
        id="edgeitems_0_0d",
    ),
]


@pytest.mark.parametrize("array, suffixes, options, expected", PYTORCH_CASES)
def test_printing_matches_pytorch(array, suffixes, options, expected):
    set_printoptions(**options)
    assert format_tensor(array, suffixes) == expected


def test_printing_default_options_are_pytorchs():
    assert get_printoptions() == {
        "precision": 4,
        "threshold": 1000,
        "edgeitems": 3,
        "linewidth": 80,
        "sci_mode": None,
    }


@pytest.mark.parametrize(
    "profile, expected",
    [
        ("default", {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80}),
        ("short", {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80}),
        ("full", {"precision": 4, "threshold": math.inf, "edgeitems": 3, "linewidth": 80}),
    ],
)
def test_printing_profile_sets_options(profile, expected):
    set_printoptions(precision=7, linewidth=120)
    set_printoptions(profile=profile)
    assert get_printoptions() == {**expected, "sci_mode": None}


def test_printing_unknown_profile_is_ignored_like_pytorch():
    set_printoptions(precision=6)
    set_printoptions(profile="bogus")
    assert get_printoptions()["precision"] == 6


def test_printing_every_call_resets_sci_mode_like_pytorch():
    set_printoptions(sci_mode=True)
    assert get_printoptions()["sci_mode"] is True
    set_printoptions(precision=2)
    assert get_printoptions()["sci_mode"] is None
    assert format_tensor(np.array([1.5, 100.0], np.float32)) == "tensor([  1.50, 100.00])"


def test_printing_full_profile_prints_every_element():
    set_printoptions(profile="full")
    text = format_tensor(np.arange(1001))
    assert "..." not in text
    assert ast.literal_eval(text.removeprefix("tensor(").removesuffix(")")) == list(range(1001))


@pytest.mark.parametrize(
    "array, shown",
    [
        (np.zeros(2, np.float32), False),
        (np.zeros(2, np.int64), False),
        (np.zeros(2, bool), False),
        (np.zeros(0, np.float32), False),
        (np.zeros(0, np.int64), True),
        (np.zeros((0, 2), bool), True),
        (np.zeros(2, np.float64), True),
        (np.zeros(2, np.float16), True),
        (np.array(1, np.int32), True),
    ],
    ids=lambda v: str(v.dtype) + str(v.shape) if isinstance(v, np.ndarray) else str(v),
)
def test_printing_shows_dtype_like_pytorch(array, shown):
    assert shows_dtype(array) is shown


def _data_part(text: str) -> str:
    return text.removeprefix("tensor(").removesuffix(")")


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.int64,
        array_shapes(min_dims=0, max_dims=4, max_side=6),
        elements=st.integers(-(2**40), 2**40),
    )
)
def test_printing_integers_round_trip(array):
    text = format_tensor(array)
    assert ast.literal_eval(_data_part(text)) == array.tolist()
    assert format_tensor(array) == text


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.float64,
        array_shapes(min_dims=1, max_dims=3, max_side=6),
        elements=st.floats(-1e6, 1e6, allow_nan=False, width=64),
    )
)
def test_printing_floats_round_trip_within_precision(array):
    text = format_tensor(array, ["dtype=tracegrad.float64"])
    data = text.removeprefix("tensor(").rsplit("dtype=", 1)[0].rstrip().rstrip(",")
    printed = np.array(ast.literal_eval(data), dtype=float)
    assert printed.shape == array.shape
    np.testing.assert_allclose(printed, array, rtol=1e-4, atol=1e-4)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float32, st.integers(1, 6), elements=st.floats(width=32)))
def test_printing_elements_share_one_width(array):
    """Right-aligned to one width; PyTorch measures only nonzero finite values, so only they."""
    set_printoptions(linewidth=1000)  # one line, so splitting at ", " finds the elements
    items = format_tensor(array).removeprefix("tensor([").removesuffix("])").split(", ")
    measured = np.isfinite(array) & (array != 0)
    assert len({len(item) for item, m in zip(items, measured, strict=True) if m}) <= 1
