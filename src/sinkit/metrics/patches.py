"""Metrics that need no pretrained network: pixel diversity and patch statistics.

They run on every machine, so the benchmark always has a quality and a
diversity number even where SIFID / LPIPS weights cannot be had.
All functions take ``(B, 3, H, W)`` tensors in ``[-1, 1]``.
"""

from __future__ import annotations

import torch

from ..core.resize import resize
from ..core.patches import extract_patches, sliced_wasserstein  # the one patch toolkit (re-exported here)
from ._checks import check_images

__all__ = ["pixel_diversity", "extract_patches", "sliced_wasserstein", "patch_swd", "nn_patch_distance"]


def pixel_diversity(samples: torch.Tensor, real: torch.Tensor) -> float:
    """SinGAN's diversity score (paper sec. 3.1, Table 1).

    "the standard deviation of the intensity values of each pixel over [the]
    generated images, averaged over all pixels, and normalized by the std of
    the intensity values of the training image."  Computed per RGB channel
    value (population std over the samples), on the [-1, 1] scale; the
    normalisation makes the scale irrelevant.

    Args:
        samples: ``(B, 3, H, W)`` in ``[-1, 1]``, B >= 2 samples of the training image's size
            (the paper uses B = 100).
        real: ``(1, 3, H, W)`` training image.

    Returns:
        Diversity (0 = all samples identical; SinGAN reports 0.5 from scale N, 0.35 from N-1).

    Raises:
        ValueError: fewer than 2 samples, shapes disagree, or a constant training image.
    """
    check_images(samples, "samples")
    check_images(real, "real")
    if samples.shape[0] < 2:
        raise ValueError(f"pixel_diversity needs at least 2 samples, got {samples.shape[0]}")
    if samples.shape[1:] != real.shape[1:]:
        raise ValueError(f"samples {tuple(samples.shape[1:])} and real {tuple(real.shape[1:])} differ in size")
    real_std = real.double().std(correction=0)
    if real_std == 0:
        raise ValueError("the training image is constant: diversity is undefined")
    return float(samples.double().std(dim=0, correction=0).mean() / real_std)


def patch_swd(
    samples: torch.Tensor,
    real: torch.Tensor,
    *,
    patch_size: int = 7,
    levels: int = 3,
    projections: int = 128,
    seed: int = 0,
) -> float:
    """Multi-scale sliced Wasserstein distance between the patch distributions of samples and image.

    The patch statistic GPDM (Elnekave & Weiss, ECCV 2022) optimises: at each of
    ``levels`` scales (full size, then each halved with the library's
    antialiased resize) all 7x7 patches of a sample and of the training image
    are compared with :func:`sliced_wasserstein`; the score is the mean over
    levels and samples.  Lower is better; 0 for identical images.  Samples may
    have another size than the training image (patch distributions, not pixels,
    are compared).  Levels whose short side would fall below ``2 * patch_size``
    are skipped.

    Args:
        samples: ``(B, 3, H, W)`` in ``[-1, 1]``.
        real: ``(1, 3, H', W')`` in ``[-1, 1]``.
        patch_size: patch side, px (7 as GPNN/GPDM).
        levels: number of scales (factor 1/2 between them).
        projections: random directions per comparison (fixed by ``seed``).

    Returns:
        Mean sliced W1 on the [-1, 1] pixel scale.
    """
    check_images(samples, "samples")
    check_images(real, "real")
    scores = []
    for b in range(samples.shape[0]):
        gen = torch.Generator().manual_seed(seed)  # same directions for every sample: comparable scores
        x, y = samples[b : b + 1], real
        per_level = []
        for level in range(levels):
            if level > 0:
                x, y = resize(x, scale=0.5), resize(y, scale=0.5)
            if min(*x.shape[-2:], *y.shape[-2:]) < 2 * patch_size and level > 0:
                break
            px, py = extract_patches(x, patch_size)[0], extract_patches(y, patch_size)[0]
            per_level.append(sliced_wasserstein(px, py, projections, gen))
        scores.append(sum(per_level) / len(per_level))
    return float(sum(scores) / len(scores))


def nn_patch_distance(
    samples: torch.Tensor,
    real: torch.Tensor,
    *,
    patch_size: int = 7,
    stride: int = 2,
    chunk: int = 1024,
) -> float:
    """Mean nearest-neighbour distance from each sample patch to the training image's patches.

    Measures whether every generated patch exists in the training image (the
    "visual quality" side of patch statistics; GPNN's coherence term).  It is
    blind to missing content (a sample that repeats one region scores well):
    read it together with a diversity measure.

    Args:
        samples: ``(B, 3, H, W)`` in ``[-1, 1]``.
        real: ``(1, 3, H', W')`` in ``[-1, 1]``.
        patch_size: patch side, px.
        stride: stride over the *sample* patches (the training image uses every
            position); 2 cuts the work by 4.
        chunk: sample patches per distance block (memory: ``chunk x M`` floats).

    Returns:
        Mean over sample patches of the RMS per-pixel difference to the nearest
        training patch, on the [-1, 1] scale (0 when every patch is copied
        exactly, up to float32 round-off of about 1e-3).
    """
    check_images(samples, "samples")
    check_images(real, "real")
    # float32 matmul: |q|^2 - 2 q.k + |k|^2 loses ~1e-5 of d^2 to round-off, far below what the metric resolves.
    keys = extract_patches(real.float(), patch_size)[0]  # (M, D)
    keys_sq = (keys * keys).sum(1)
    dim = keys.shape[1]
    total, count = 0.0, 0
    for b in range(samples.shape[0]):
        queries = extract_patches(samples[b : b + 1].float(), patch_size, stride)[0]
        for q in queries.split(chunk):
            d2 = (q * q).sum(1, keepdim=True) - 2 * q @ keys.T + keys_sq
            nearest = d2.min(dim=1).values.clamp_min(0)
            total += float((nearest.double() / dim).sqrt().sum())
            count += q.shape[0]
    return total / count
