"""Pytrees: flatten/unflatten round trips for tuples, lists, dicts and namedtuples, leaf order,
and the readable leaf paths used to name graph inputs."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracegrad.tracer import flatten, unflatten
from tracegrad.tracer.pytree import LEAF, leaf_paths

Point = namedtuple("Point", ["x", "y"])

leaves = st.one_of(st.integers(-5, 5), st.floats(allow_nan=False), st.none(), st.text(max_size=3))
trees = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=3), children, max_size=3),
        st.tuples(children, children).map(lambda t: Point(*t)),
    ),
    max_leaves=12,
)


@given(trees)
def test_flatten_unflatten_round_trip(tree):
    flat, treedef = flatten(tree)
    assert treedef.num_leaves == len(flat)
    rebuilt = unflatten(treedef, flat)
    assert rebuilt == tree
    assert type(rebuilt) is type(tree)


@given(trees)
def test_unflatten_places_new_leaves_in_order(tree):
    flat, treedef = flatten(tree)
    numbered = unflatten(treedef, range(len(flat)))
    assert flatten(numbered)[0] == list(range(len(flat)))


def test_flatten_order_is_depth_first_and_dicts_keep_insertion_order():
    tree = {"b": (1, [2, 3]), "a": {"z": 4, "y": 5}}
    flat, treedef = flatten(tree)
    assert flat == [1, 2, 3, 4, 5]
    assert treedef.keys == ("b", "a")


def test_arrays_and_scalars_are_leaves():
    a = np.ones(3)
    flat, treedef = flatten([a, 2.0, None])
    assert flat[0] is a and flat[1:] == [2.0, None]
    assert flatten(a) == ([a], LEAF)


def test_empty_containers_have_no_leaves():
    for empty in ((), [], {}):
        flat, treedef = flatten(empty)
        assert flat == [] and unflatten(treedef, []) == empty


def test_namedtuple_keeps_its_type():
    p = unflatten(flatten(Point(1, 2))[1], [3, 4])
    assert isinstance(p, Point) and p.x == 3 and p.y == 4


def test_treedefs_compare_by_structure():
    assert flatten((1, [2]))[1] == flatten((5, [6]))[1]
    assert flatten((1, [2]))[1] != flatten((1, (2,)))[1]
    assert flatten({"a": 1})[1] != flatten({"b": 1})[1]


def test_unflatten_with_too_few_leaves_raises():
    _, treedef = flatten((1, 2))
    with pytest.raises(StopIteration):
        unflatten(treedef, [1])


def test_leaf_paths_name_nested_arguments():
    params = {"w1": np.ones(2), "layers": [np.ones(1), (np.ones(1), 3)]}
    assert leaf_paths(params, "params") == [
        "params_w1", "params_layers_0", "params_layers_1_0", "params_layers_1_1"]
    assert leaf_paths(Point(1, 2), "p") == ["p_x", "p_y"]
    assert leaf_paths(np.ones(2), "x") == ["x"]
