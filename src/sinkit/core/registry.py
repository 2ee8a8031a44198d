"""Which methods exist, and loading any saved model by the method name its checkpoint records.

A method registers its model class with :func:`register_method`.  Built-in
methods are declared by module name in :data:`sinkit.BUILTIN_METHODS` (the
package root passes them to :func:`declare_methods`) and imported only when
first asked for, so importing ``sinkit.core`` loads no method; third-party
packages can declare theirs through the ``sinkit.methods`` entry-point group
(``name = "package.module"``).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Callable, Mapping, TypeVar

import torch

from .checkpoint import CheckpointError, load_checkpoint
from .device import resolve_device

__all__ = ["register_method", "declare_methods", "get_method", "available_methods", "method_modules", "load"]

_METHODS: dict[str, type] = {}
_DECLARED: dict[str, str] = {}
_ENTRY_POINTS_READ = False
T = TypeVar("T", bound=type)


def register_method(name: str) -> Callable[[T], T]:
    """Class decorator: make a :class:`~sinkit.core.model.SingleImageModel` subclass known by ``name``.

    The class provides ``config_class``, ``presets`` (name -> config), ``inputs``,
    ``usage`` and ``_fit``; the CLI, the loader and the benchmark harness find it here.
    """

    def deco(cls: T) -> T:
        cls.method = name
        _METHODS[name] = cls
        return cls

    return deco


def declare_methods(modules: Mapping[str, str]) -> None:
    """Declare methods by the module that registers them (imported on first use)."""
    _DECLARED.update(modules)


def method_modules() -> dict[str, str]:
    """Method name -> the module that defines it, for every declared method."""
    _read_entry_points()
    return dict(_DECLARED)


def _read_entry_points() -> None:
    global _ENTRY_POINTS_READ
    if _ENTRY_POINTS_READ:
        return
    _ENTRY_POINTS_READ = True
    from importlib.metadata import entry_points

    for ep in entry_points(group="sinkit.methods"):
        _DECLARED.setdefault(ep.name, ep.value)


def _import(name: str) -> None:
    module = method_modules().get(name)
    if module is not None and name not in _METHODS:
        importlib.import_module(module)


def available_methods() -> list[str]:
    """Names of every registered or declared method, sorted."""
    for name in method_modules():
        _import(name)
    return sorted(_METHODS)


def get_method(name: str) -> type:
    """The model class registered as ``name``.

    Raises:
        ValueError: unknown method (the message lists the known ones).
    """
    if name not in _METHODS:
        _import(name)
    try:
        return _METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; available: {', '.join(available_methods())}") from None


def load(path: str | Path, device: str | torch.device = "auto"):
    """Load a saved model directory on ``device``.

    Args:
        path: directory written by ``model.save`` or ``sinkit train``.
        device: ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``, ``"mps"``.

    Returns:
        The model (e.g. :class:`sinkit.SinGAN`), in eval mode.

    Raises:
        FileNotFoundError: no checkpoint at ``path``.
        CheckpointError: corrupt, incomplete or unknown-method checkpoint, or tensors that do
            not match the metadata.
    """
    device = resolve_device(device)
    tensors, meta = load_checkpoint(path, device="cpu")
    try:
        cls = get_method(meta["method"])
    except ValueError as err:
        raise CheckpointError(f"{path}: {err}") from err
    return cls.from_checkpoint(tensors, meta).to(device)
