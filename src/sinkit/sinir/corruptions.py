"""Training-time corruptions of SinIR's intermediate images (paper sec. 2.1.2; supplement sec. C).

During training every network's output is corrupted before it is upsampled
and fed to the next scale, so that each network sees varied inputs (the
denoising-autoencoder idea).  Never at inference.

Every corruption is a plain function ``f(x, p, *, generator=None, ...)`` on a
``(B, C, H, W)`` tensor in ``[-1, 1]`` that returns a new tensor (the input is
not modified); ``p`` is the fraction of pixel positions (patches for
:func:`patch_shuffle`) that are corrupted, drawn independently for each image
of the batch.  Random numbers come from ``generator`` (a CPU
``torch.Generator``), so a seed gives the same corruption on every device.
:func:`make_corruption` picks one from a :class:`~sinkit.sinir.config.SinIRConfig`.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Callable

import torch

__all__ = [
    "pixel_shuffle",
    "black_noise",
    "additive_gaussian",
    "replacing_gaussian",
    "patch_shuffle",
    "make_corruption",
    "Corruption",
]

#: ``corruption(x, generator) -> x_corrupted``
Corruption = Callable[[torch.Tensor, "torch.Generator | None"], torch.Tensor]


def _check(x: torch.Tensor, p: float) -> None:
    if x.dim() != 4:
        raise ValueError(f"expected a (B, C, H, W) tensor, got shape {tuple(x.shape)}")
    if not 0 <= p <= 1:
        raise ValueError(f"p must be in [0, 1], got {p}")


def _positions(n: int, p: float, generator: torch.Generator | None) -> torch.Tensor:
    """Boolean mask ``(n,)``: each position is chosen with probability ``p``."""
    return torch.rand(n, generator=generator) < p


def pixel_shuffle(x: torch.Tensor, p: float = 0.005, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random pixel shuffling (paper sec. 2.1.2; official ``shuffle_pixel``).

    A random permutation ``pi`` of the ``H * W`` positions is drawn; each
    position ``i`` is chosen with probability ``p`` and then takes the value at
    ``pi(i)``, for all channels at once (one permutation shared by R, G and B).
    The expected fraction of changed positions is ``p`` (minus the ``1 / HW``
    chance that ``pi(i) = i``).

    Args:
        x: ``(B, C, H, W)``.
        p: probability that a position takes a shuffled value (official 0.005).
        generator: CPU random source.

    Returns:
        ``(B, C, H, W)``, a new tensor.

    Example:
        >>> x = torch.rand(1, 3, 32, 32) * 2 - 1
        >>> y = pixel_shuffle(x, 0.1, generator=torch.Generator().manual_seed(0))
        >>> 0.05 < (y != x).any(1).float().mean().item() < 0.15
        True
    """
    _check(x, p)
    b, c, h, w = x.shape
    if p == 0:
        return x.clone()
    index = []
    for _ in range(b):
        perm = torch.randperm(h * w, generator=generator)
        chosen = _positions(h * w, p, generator)
        index.append(torch.where(chosen, perm, torch.arange(h * w)))
    index = torch.stack(index).to(x.device)[:, None, :].expand(b, c, h * w)
    return x.reshape(b, c, h * w).gather(2, index).view(b, c, h, w)


def black_noise(x: torch.Tensor, p: float = 0.005, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Set a fraction ``p`` of pixel positions to black (-1 in every channel); supplement sec. C.

    The denoising autoencoder's masking noise; the supplement notes it can leave
    "floating objects with black edges".

    Args, returns: as :func:`pixel_shuffle`.
    """
    _check(x, p)
    b, _, h, w = x.shape
    mask = torch.stack([_positions(h * w, p, generator) for _ in range(b)]).view(b, 1, h, w).to(x.device)
    return x.masked_fill(mask, -1.0)


def additive_gaussian(
    x: torch.Tensor, p: float = 0.005, *, std: float = math.sqrt(0.5), generator: torch.Generator | None = None
) -> torch.Tensor:
    """Add ``N(0, std^2)`` noise (each channel independently) at a fraction ``p`` of positions, clip to ``[-1, 1]``.

    Supplement sec. C: mean 0, variance 0.5 (``std = sqrt(0.5)``) for pixel values in ``[-1, 1]``.

    Args, returns: as :func:`pixel_shuffle`; ``std`` is the noise's standard deviation.
    """
    _check(x, p)
    b, c, h, w = x.shape
    mask = torch.stack([_positions(h * w, p, generator) for _ in range(b)]).view(b, 1, h, w).to(x.device)
    noise = (torch.randn(b, c, h, w, generator=generator) * std).to(device=x.device, dtype=x.dtype)
    return torch.where(mask, (x + noise).clamp(-1.0, 1.0), x)


def replacing_gaussian(
    x: torch.Tensor, p: float = 0.005, *, std: float = math.sqrt(0.5), generator: torch.Generator | None = None
) -> torch.Tensor:
    """Replace a fraction ``p`` of positions by ``N(0, std^2)`` noise (per channel), clipped to ``[-1, 1]``.

    Supplement sec. C: mean 0, variance 0.5.

    Args, returns: as :func:`additive_gaussian`.
    """
    _check(x, p)
    b, c, h, w = x.shape
    mask = torch.stack([_positions(h * w, p, generator) for _ in range(b)]).view(b, 1, h, w).to(x.device)
    noise = (torch.randn(b, c, h, w, generator=generator) * std).clamp(-1.0, 1.0).to(device=x.device, dtype=x.dtype)
    return torch.where(mask, noise, x)


def patch_shuffle(
    x: torch.Tensor, p: float = 0.005, *, patch_ratio: float = 30.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Random patch shuffling: pixel shuffling on a grid of square patches (supplement sec. C, fig. 16).

    The patch side is ``round(max(H, W) / patch_ratio)`` (at least 1 px; the
    supplement's "intensity" 30 means a side of 1/30 of the long side).  The
    image is tiled from the top-left corner (a remainder strip narrower than
    a patch is left as is); each tile is chosen with probability ``p`` and
    takes the content of a randomly permuted tile.  The supplement does not
    say how many patches move; using ``p`` per tile, like pixel shuffling per
    pixel, is this library's reading.

    Args:
        x: ``(B, C, H, W)``.
        p: probability that a tile takes a shuffled tile's content.
        patch_ratio: long side / patch side.
        generator: CPU random source.

    Returns:
        ``(B, C, H, W)``, a new tensor.

    Raises:
        ValueError: ``patch_ratio <= 0``.
    """
    _check(x, p)
    if patch_ratio <= 0:
        raise ValueError(f"patch_ratio must be positive, got {patch_ratio}")
    b, c, h, w = x.shape
    side = max(1, round(max(h, w) / patch_ratio))
    nh, nw = h // side, w // side
    out = x.clone()
    if nh * nw < 2 or p == 0:
        return out
    region = out[:, :, : nh * side, : nw * side]
    tiles = region.reshape(b, c, nh, side, nw, side).permute(0, 2, 4, 1, 3, 5).reshape(b, nh * nw, c, side, side)
    index = []
    for _ in range(b):
        perm = torch.randperm(nh * nw, generator=generator)
        chosen = _positions(nh * nw, p, generator)
        index.append(torch.where(chosen, perm, torch.arange(nh * nw)))
    index = torch.stack(index).to(x.device)
    moved = tiles.gather(1, index[:, :, None, None, None].expand_as(tiles))
    moved = moved.reshape(b, nh, nw, c, side, side).permute(0, 3, 1, 4, 2, 5).reshape(b, c, nh * side, nw * side)
    out[:, :, : nh * side, : nw * side] = moved
    return out


def _none(x: torch.Tensor, p: float = 0.0, *, generator: torch.Generator | None = None) -> torch.Tensor:
    return x.clone()


_BY_NAME = {
    "pixel_shuffle": pixel_shuffle,
    "black": black_noise,
    "additive_gaussian": additive_gaussian,
    "replacing_gaussian": replacing_gaussian,
    "patch_shuffle": patch_shuffle,
    "none": _none,
}


def make_corruption(config) -> Corruption:
    """The corruption a :class:`~sinkit.sinir.config.SinIRConfig` asks for, as ``f(x, generator)``.

    Raises:
        ValueError: unknown ``config.corruption``.
    """
    try:
        fn = _BY_NAME[config.corruption]
    except KeyError:
        raise ValueError(f"unknown corruption {config.corruption!r}; choose from {', '.join(_BY_NAME)}") from None
    kwargs = {}
    if fn in (additive_gaussian, replacing_gaussian):
        kwargs["std"] = config.noise_std
    elif fn is patch_shuffle:
        kwargs["patch_ratio"] = config.patch_ratio
    bound = partial(fn, p=config.corruption_p, **kwargs)
    return lambda x, generator=None: bound(x, generator=generator)
