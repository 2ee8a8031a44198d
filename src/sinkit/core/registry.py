"""Which methods exist, and loading any saved model by the method name its checkpoint records."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, TypeVar

import torch

from .checkpoint import CheckpointError, load_checkpoint
from .device import resolve_device

__all__ = ["register_method", "get_method", "available_methods", "load"]

_METHODS: dict[str, type] = {}
T = TypeVar("T", bound=type)


def register_method(name: str) -> Callable[[T], T]:
    """Class decorator: make a :class:`~sinkit.core.model.MultiScaleModel` subclass known by ``name``.

    The class must provide ``config_class``, ``presets`` (name -> config) and
    ``train(image, config, ...)``; the CLI, the loader and the benchmark harness
    find it here.
    """

    def deco(cls: T) -> T:
        cls.method = name
        _METHODS[name] = cls
        return cls

    return deco


def available_methods() -> list[str]:
    _import_builtin()
    return sorted(_METHODS)


def get_method(name: str) -> type:
    """The model class registered as ``name``.

    Raises:
        ValueError: unknown method (the message lists the known ones).
    """
    _import_builtin()
    try:
        return _METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; available: {', '.join(sorted(_METHODS))}") from None


def load(path: str | Path, device: str | torch.device = "auto"):
    """Load a saved model directory, ready to sample, on ``device``.

    Args:
        path: directory written by ``model.save`` or ``sinkit train``.
        device: ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``, ``"mps"``.

    Returns:
        The model (e.g. :class:`sinkit.SinGAN`).

    Raises:
        FileNotFoundError: no checkpoint at ``path``.
        CheckpointError: corrupt, incomplete or unknown-method checkpoint.
    """
    device = resolve_device(device)
    tensors, meta = load_checkpoint(path, device="cpu")
    try:
        cls = get_method(meta["method"])
    except ValueError as err:
        raise CheckpointError(f"{path}: {err}") from err
    model = cls.from_state(tensors, meta)
    return model.to(device)


def _import_builtin() -> None:
    # Importing the method packages registers them.
    from .. import singan  # noqa: F401

    try:
        from .. import sinir  # noqa: F401
    except ImportError:
        pass
