"""SinIR's reconstruction loss (paper eq. 2)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from kornia.metrics import ssim as ssim_map

__all__ = ["ssim", "reconstruction_loss"]


def ssim(a: torch.Tensor, b: torch.Tensor, window: int = 11) -> torch.Tensor:
    """Mean SSIM of two batches in ``[-1, 1]``, as the official SinIR loss computes it.

    SSIM (Wang et al. 2004) with an ``window x window`` Gaussian window of
    sigma 1.5 on images mapped to ``[0, 1]`` (data range 1, K1 0.01, K2 0.03),
    no padding ("valid"), averaged over positions per image and channel,
    clipped at 0 (the official ``nonnegative_ssim=True`` of pytorch-msssim),
    then averaged.  The SSIM map is kornia's maintained implementation.

    Args:
        a, b: ``(B, C, H, W)`` in ``[-1, 1]``, ``H, W >= window``.
        window: odd window size (official 11).

    Returns:
        Scalar tensor in ``[0, 1]`` (differentiable).

    Raises:
        ValueError: shapes differ or the images are smaller than the window.
    """
    if a.shape != b.shape or a.dim() != 4:
        raise ValueError(f"expected two (B, C, H, W) tensors of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if min(a.shape[-2:]) < window:
        raise ValueError(f"images of {a.shape[-2]}x{a.shape[-1]} px are smaller than the SSIM window {window}")
    m = ssim_map((a.float() + 1) / 2, (b.float() + 1) / 2, window, max_val=1.0, padding="valid")
    return m.mean(dim=(2, 3)).clamp_min(0).mean()


def reconstruction_loss(output: torch.Tensor, target: torch.Tensor, window: int = 11) -> torch.Tensor:
    """``L_rec(A, B) = MSE(A, B) + (1 - SSIM(A, B))`` (paper eq. 2; MSE on ``[-1, 1]`` as the official code).

    Args:
        output, target: ``(B, 3, H, W)`` in ``[-1, 1]``.
        window: SSIM window size.

    Returns:
        Scalar tensor >= 0.
    """
    return F.mse_loss(output.float(), target.float()) + (1 - ssim(output, target, window))
