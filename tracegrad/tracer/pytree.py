"""Pytrees: flatten nested tuples, lists, dicts (and namedtuples) into leaves and back.

Dispatch is on the container's Python type (singledispatch); anything else is a leaf. Dict keys
are kept in insertion order, so flattening is deterministic for a given argument."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class TreeDef:
    kind: str                                 # "leaf", "tuple", "list", "dict", "namedtuple"
    children: tuple[TreeDef, ...] = ()
    keys: tuple[Any, ...] = ()                # dict keys, or the namedtuple type as keys[0]

    @property
    def num_leaves(self) -> int:
        return 1 if self.kind == "leaf" else sum(c.num_leaves for c in self.children)


LEAF = TreeDef("leaf")


@functools.singledispatch
def _children(obj: Any) -> tuple[str, tuple, tuple] | None:
    return None


@_children.register
def _(obj: tuple) -> tuple[str, tuple, tuple]:
    if hasattr(obj, "_fields"):
        return "namedtuple", tuple(obj), (type(obj),)
    return "tuple", obj, ()


@_children.register
def _(obj: list) -> tuple[str, tuple, tuple]:
    return "list", tuple(obj), ()


@_children.register
def _(obj: dict) -> tuple[str, tuple, tuple]:
    return "dict", tuple(obj.values()), tuple(obj.keys())


def flatten(obj: Any) -> tuple[list[Any], TreeDef]:
    """The leaves of `obj` in order, and the structure to rebuild it."""
    leaves: list[Any] = []
    return leaves, _flatten(obj, leaves)


def _flatten(obj: Any, leaves: list[Any]) -> TreeDef:
    parts = _children(obj)
    if parts is None:
        leaves.append(obj)
        return LEAF
    kind, items, keys = parts
    return TreeDef(kind, tuple(_flatten(item, leaves) for item in items), keys)


def unflatten(tree: TreeDef, leaves: Any) -> Any:
    """Rebuild the structure `tree` with `leaves` in place of the original leaves."""
    iterator = iter(leaves)
    return _unflatten(tree, iterator)


def _unflatten(tree: TreeDef, leaves: Any) -> Any:
    if tree.kind == "leaf":
        return next(leaves)
    items = [_unflatten(c, leaves) for c in tree.children]
    if tree.kind == "tuple":
        return tuple(items)
    if tree.kind == "namedtuple":
        return tree.keys[0](*items)
    if tree.kind == "list":
        return items
    return dict(zip(tree.keys, items))


def leaf_paths(obj: Any, prefix: str) -> list[str]:
    """A readable name per leaf: `params_w1`, `xs_0`, or just `prefix` for a leaf."""
    parts = _children(obj)
    if parts is None:
        return [prefix]
    kind, items, keys = parts
    labels = keys if kind == "dict" else (
        obj._fields if kind == "namedtuple" else range(len(items)))
    paths: list[str] = []
    for label, item in zip(labels, items):
        paths += leaf_paths(item, f"{prefix}_{label}")
    return paths
