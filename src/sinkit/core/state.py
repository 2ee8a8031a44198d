"""Nested training state (optimizers, schedulers, random generators) as flat tensors plus JSON.

An optimizer's ``state_dict()`` is a tree of dicts (some with integer keys),
lists, tuples, numbers and tensors.  Checkpoints never pickle, so the tree is
split into the tensors, stored in the safetensors file under a prefix, and a
JSON skeleton that says where each tensor goes and keeps the container types
(integer dict keys, tuples) that JSON alone would lose.  ``unflatten_state``
gives back an equal tree, so ``optimizer.load_state_dict`` continues exactly.

Example:
    >>> import torch
    >>> tree = {"state": {0: {"step": torch.tensor(3.0)}}, "param_groups": [{"betas": (0.5, 0.999)}]}
    >>> tensors, skeleton = flatten_state(tree, prefix="opt.")
    >>> sorted(tensors)
    ['opt.0']
    >>> unflatten_state(skeleton, tensors)["param_groups"][0]["betas"]
    (0.5, 0.999)
"""

from __future__ import annotations

import math
from typing import Any

import torch

__all__ = ["flatten_state", "unflatten_state", "generator_state", "restore_generator"]

_TENSOR, _DICT, _TUPLE, _FLOAT = "__tensor__", "__dict__", "__tuple__", "__float__"


def flatten_state(tree: Any, prefix: str = "") -> tuple[dict[str, torch.Tensor], Any]:
    """Split ``tree`` into ``{prefix + n: tensor}`` and a JSON-serialisable skeleton.

    Args:
        tree: nested dicts / lists / tuples of tensors, ``torch.Generator``-free
            scalars (int, float, bool, str, None).  Dict keys may be str, int,
            float, bool or None.
        prefix: prepended to every tensor key (e.g. ``"trainer."``).

    Returns:
        ``(tensors, skeleton)``: tensors are detached CPU copies.

    Raises:
        TypeError: a leaf that is neither a tensor nor a JSON scalar.
    """
    tensors: dict[str, torch.Tensor] = {}

    def walk(node: Any) -> Any:
        if torch.is_tensor(node):
            key = f"{prefix}{len(tensors)}"
            tensors[key] = node.detach().to("cpu").clone().contiguous()
            return {_TENSOR: key}
        if isinstance(node, dict):
            for k in node:
                if not (k is None or isinstance(k, (str, int, float, bool))):
                    raise TypeError(f"cannot store a dict key of type {type(k).__name__} in a checkpoint")
            return {_DICT: [[k, walk(v)] for k, v in node.items()]}
        if isinstance(node, tuple):
            return {_TUPLE: [walk(v) for v in node]}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, float) and not math.isfinite(node):
            return {_FLOAT: repr(node)}  # JSON has no inf / nan
        if node is None or isinstance(node, (str, int, float, bool)):
            return node
        raise TypeError(f"cannot store a {type(node).__name__} in a checkpoint (only tensors, containers and scalars)")

    return tensors, walk(tree)


def unflatten_state(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Rebuild the tree that :func:`flatten_state` split.

    Raises:
        KeyError: a tensor the skeleton names is missing from ``tensors``.
    """

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if _TENSOR in node:
                return tensors[node[_TENSOR]]
            if _DICT in node:
                return {k: walk(v) for k, v in node[_DICT]}
            if _TUPLE in node:
                return tuple(walk(v) for v in node[_TUPLE])
            if _FLOAT in node:
                return float(node[_FLOAT])
            raise ValueError(f"unknown node in a training-state skeleton: {sorted(node)}")
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(skeleton)


def generator_state(generator: torch.Generator) -> torch.Tensor:
    """The state of a ``torch.Generator`` as a uint8 tensor (storable; see :func:`restore_generator`)."""
    return generator.get_state()


def restore_generator(generator: torch.Generator, state: torch.Tensor) -> torch.Generator:
    """Set ``generator`` to a state saved by :func:`generator_state`; returns it."""
    generator.set_state(state.to(torch.uint8).cpu())
    return generator
