"""Input validation shared by the metrics (one message format everywhere)."""

from __future__ import annotations

import torch


def check_images(x: torch.Tensor, name: str = "images", *, channels: int | None = 3) -> None:
    """Raise ``ValueError`` unless ``x`` is a ``(B, C, H, W)`` floating tensor (C = ``channels``)."""
    if not torch.is_tensor(x):
        raise ValueError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4 or (channels is not None and x.shape[1] != channels):
        c = "3" if channels == 3 else "C"
        raise ValueError(f"{name}: expected Bx{c}xHxW, got torch.Size({list(x.shape)})")
    if not x.is_floating_point():
        raise ValueError(f"{name}: expected a floating tensor in [-1, 1], got dtype {x.dtype}")


def check_same_shape(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"images must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
