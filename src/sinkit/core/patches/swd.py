"""Sliced Wasserstein distance between point sets, and between the patch distributions of images.

:func:`sliced_wasserstein` is the evaluation metric's statistic (``sinkit.metrics.patch_swd``);
:func:`patch_swd_loss` is the differentiable loss GPDM (Elnekave & Weiss, ECCV 2022,
sec. 3; official ``patch_swd.py``) minimises: all ``p x p`` patches are projected on random
unit directions with one convolution (a direction is a ``(C, p, p)`` filter), both projected
sets are sorted, and the mean absolute difference of the sorted values is the loss.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .ops import check_patch_fits

__all__ = ["sliced_wasserstein", "random_directions", "sorted_projections", "patch_swd_loss", "resample_quantiles"]


def resample_quantiles(sorted_proj: torch.Tensor, n: int, dim: int = 0) -> torch.Tensor:
    """Resample sorted values along ``dim`` to ``n`` evenly spaced quantiles (linear interpolation).

    Used to compare point sets of different sizes; a no-op when the length is already ``n``.
    """
    length = sorted_proj.shape[dim]
    if length == n:
        return sorted_proj
    moved = sorted_proj.movedim(dim, 0)
    pos = torch.linspace(0, length - 1, n, dtype=moved.dtype if moved.is_floating_point() else torch.float64, device=moved.device)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=length - 1)
    w = (pos - lo).reshape(-1, *([1] * (moved.dim() - 1)))
    return (moved[lo] * (1 - w) + moved[hi] * w).movedim(0, dim)


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, projections: int = 128, generator: torch.Generator | None = None) -> float:
    """Sliced Wasserstein-1 distance between two point sets.

    Projects both sets onto ``projections`` random unit directions, sorts, and
    averages the absolute difference of matching quantiles over directions
    (point sets of different sizes are compared at the larger set's quantiles).

    Args:
        a: ``(N, D)``; b: ``(M, D)``.
        projections: number of random directions.
        generator: random source for the directions (fix it for reproducible numbers).

    Returns:
        Mean over directions of W1 between the 1-D projections (same units as the points).

    Raises:
        ValueError: not two ``(N, D)`` sets of the same dimension.
    """
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"expected (N, D) and (M, D) point sets, got {tuple(a.shape)} and {tuple(b.shape)}")
    dirs = torch.randn(a.shape[1], projections, generator=generator, dtype=torch.float64).to(a.device)
    dirs = dirs / dirs.norm(dim=0, keepdim=True)
    pa = (a.double() @ dirs).sort(dim=0).values
    pb = (b.double() @ dirs).sort(dim=0).values
    n = max(pa.shape[0], pb.shape[0])
    return float((resample_quantiles(pa, n) - resample_quantiles(pb, n)).abs().mean())


def random_directions(
    projections: int, channels: int, patch_size: int, *, generator: torch.Generator | None = None,
    device: torch.device | str | None = None, dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """``projections`` random unit directions in patch space, as ``(P, C, p, p)`` convolution filters."""
    dirs = torch.randn(projections, channels * patch_size * patch_size, generator=generator, dtype=torch.float32)
    dirs = dirs / dirs.norm(dim=1, keepdim=True)
    return dirs.reshape(projections, channels, patch_size, patch_size).to(device=device, dtype=dtype)


def sorted_projections(x: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """Every patch of ``x`` projected on every direction, sorted: ``(B, P, L)``.

    One ``conv2d`` computes the projections of all patches (stride 1) at once.
    """
    check_patch_fits(x.shape, directions.shape[-1])
    proj = F.conv2d(x, directions).flatten(2)
    if proj.device.type == "cpu" and not proj.requires_grad:
        # numpy's sort is ~15x faster than torch.sort on one CPU thread (torch 2.13)
        return torch.from_numpy(np.sort(proj.numpy(), axis=2))
    return proj.sort(dim=2).values


def _sort_differentiable(p: torch.Tensor) -> torch.Tensor:
    """``p.sort(dim=2).values`` with gradients; the permutation comes from numpy on the CPU (faster)."""
    if p.device.type == "cpu":
        order = torch.from_numpy(np.argsort(p.detach().numpy(), axis=2))
        return p.gather(2, order)
    return p.sort(dim=2).values


def patch_swd_loss(
    x: torch.Tensor,
    target_sorted: torch.Tensor,
    directions: torch.Tensor,
    *,
    pooled: bool = False,
) -> torch.Tensor:
    """GPDM's patch sliced-Wasserstein loss (differentiable in ``x``).

    ``mean |sort(<patches(x), d>) - sort(<patches(y), d>)|`` over directions ``d``
    and quantiles (official ``PatchSWDLoss``, L1).  When the two images have a
    different number of patches (retargeting, other sizes), the target's sorted
    projections are resampled at ``x``'s quantiles by linear interpolation (the
    official code duplicates randomly chosen entries instead: same target in
    expectation, but deterministic here).

    Args:
        x: ``(B, C, H, W)`` images being optimised.
        target_sorted: ``(1, P, L')`` from :func:`sorted_projections` of the reference.
        directions: ``(P, C, p, p)`` unit directions (redraw them every step, as GPDM does).
        pooled: treat the batch as one pooled patch set matched against the reference
            repeated B times (the official batched mode); default: every image matches
            the reference on its own.

    Returns:
        Scalar loss (mean over the batch).
    """
    px = F.conv2d(x, directions).flatten(2)  # (B, P, L)
    if pooled:
        px = px.transpose(0, 1).reshape(1, px.shape[1], -1)
    px = _sort_differentiable(px)
    ty = resample_quantiles(target_sorted, px.shape[2], dim=2)
    return (px - ty).abs().mean()
