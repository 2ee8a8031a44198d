"""SinIR hyperparameters: the official defaults, and the per-task presets built from them."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

__all__ = ["SinIRConfig", "PRESETS", "sr_config"]

#: corruption names accepted by :attr:`SinIRConfig.corruption` (see :mod:`sinkit.sinir.corruptions`)
CORRUPTION_NAMES = ("pixel_shuffle", "black", "additive_gaussian", "replacing_gaussian", "patch_shuffle", "none")


@dataclass(frozen=True)
class SinIRConfig:
    """Everything that defines a SinIR training run; stored verbatim in the checkpoint.

    Defaults are the official implementation's (``config_train/*.yaml`` and
    ``loaders/loader.py`` of the authors' code) unless a comment says otherwise.
    """

    # --- pyramid (paper sec. 3; official ImageHolder)
    max_size: int | None = 250
    """long side of the finest scale, px; the image is resized to it even when that upscales
    (500 for the artistic-style preset); None keeps the image's size (super-resolution)"""
    min_size: int = 25
    """short side of the coarsest scale, px"""
    scale_factor: float = 0.75
    """nominal ratio between scales; recomputed per image unless ``num_scales`` is set"""
    num_scales: int | None = None
    """fixed number of scales, factor used as is (photo style: 2 scales, factor 1); None: derived"""
    antialias: bool = False
    """antialiased resampling when shrinking (official: off; on for super-resolution)"""

    # --- network (supplement fig. 9)
    channels: int = 128
    """width of the 3x3 blocks (official ``net_ch``; 256 for super-resolution)"""
    num_blocks: int = 6
    """conv blocks per network"""

    # --- optimisation (paper sec. 2.1.3; official runner)
    iters: int = 500
    """iterations per scale"""
    lr: float = 1e-4
    """Adam learning rate, cosine-annealed to 0 within each scale (official CosineAnnealingLR)"""
    betas: tuple[float, float] = (0.5, 0.999)
    ssim_window: int = 11
    """Gaussian SSIM window (sigma 1.5) of the loss MSE + (1 - SSIM) (paper eq. 2)"""

    # --- corruption (paper sec. 2.1.2; supplement sec. C)
    corruption: str = "pixel_shuffle"
    """``pixel_shuffle`` (paper), ``black``, ``additive_gaussian``, ``replacing_gaussian``,
    ``patch_shuffle`` (supplement) or ``none``"""
    corruption_p: float = 0.005
    """fraction of pixel positions (patches for patch_shuffle) corrupted per forward; official
    configs 0.005 (the paper's text says 5e-4), super-resolution 0.0005"""
    noise_std: float = math.sqrt(0.5)
    """std of the Gaussian corruptions (supplement: mean 0, variance 0.5, on [-1, 1])"""
    patch_ratio: float = 30.0
    """patch_shuffle: long side of the image divided by the patch side (supplement fig. 16)"""

    # --- runtime
    bf16: bool = False
    """bfloat16 autocast for the networks (not in the paper; faster on CPUs with AVX512-BF16)"""
    seed: int = 0
    """seed of initialisation and corruption (each scale reseeds from it)"""

    def __post_init__(self):
        for name in ("min_size", "channels", "num_blocks", "iters", "ssim_window"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_size is not None and self.max_size < self.min_size:
            raise ValueError(f"max_size ({self.max_size}) must not be below min_size ({self.min_size})")
        if not 0 < self.scale_factor <= 1:
            raise ValueError(f"scale_factor must be in (0, 1], got {self.scale_factor}")
        if self.num_scales is not None and self.num_scales < 1:
            raise ValueError(f"num_scales must be >= 1 or None, got {self.num_scales}")
        if self.scale_factor == 1 and self.num_scales is None:
            raise ValueError("scale_factor 1 needs num_scales (e.g. 2, the photo-style preset)")
        if self.corruption not in CORRUPTION_NAMES:
            raise ValueError(f"unknown corruption {self.corruption!r}; choose from {', '.join(CORRUPTION_NAMES)}")
        if not 0 <= self.corruption_p <= 1:
            raise ValueError(f"corruption_p must be in [0, 1], got {self.corruption_p}")
        if self.ssim_window % 2 == 0:
            raise ValueError(f"ssim_window must be odd, got {self.ssim_window}")
        if self.patch_ratio <= 0 or self.noise_std < 0 or self.lr <= 0:
            raise ValueError("patch_ratio and lr must be positive and noise_std non-negative")


def sr_config(base: SinIRConfig, factor: float = 4.0) -> SinIRConfig:
    """The official super-resolution setting (paper sec. 3.2; ``config_train/sr.yaml``), from ``base``.

    2 scales, 256 channels, 1000 iterations per scale, lr 1e-3, pixel shuffling
    p = 0.0005, antialiased resampling, trained on the low-resolution image at
    its own size.  The two scales differ by ``r`` and the finest network is
    applied ``k`` times at test time (``sinkit.tasks.upscale``): the official
    ``r = 2`` serves x2 (k = 1) and x4 (k = 2, "x4 = two x2 passes").  For
    other factors ``r = factor ** (1 / k)`` with ``k = max(1, round(log2 factor))``
    (x8 -> r 2, k 3; x3 -> r 1.73, k 2) so that the passes land exactly on
    ``factor`` - a generalisation, the official code only trains r = 2.

    Args:
        base: config whose other fields (seed, bf16, ...) are kept.
        factor: the super-resolution factor wanted at test time, > 1.

    Raises:
        ValueError: ``factor <= 1``.
    """
    if factor <= 1:
        raise ValueError(f"super-resolution factor must be > 1, got {factor}")
    steps = max(1, round(math.log2(factor)))
    r = factor ** (1 / steps)
    return replace(
        base,
        max_size=None,
        num_scales=2,
        scale_factor=1 / r,
        channels=256,
        iters=1000,
        lr=1e-3,
        corruption="pixel_shuffle",
        corruption_p=0.0005,
        antialias=True,
    )


_PAPER = SinIRConfig()

#: ``paper``: official generation/manipulation setting (250 px; editing, harmonization, paint-to-image).
#: ``photo_style``: photo-realistic style transfer (factor 1, 2 scales; official ``task: photo``).
#: ``art_style``: artistic style transfer with larger textures (max_size 500; inject at N-4).
#: ``sr``: super-resolution (x2 steps; see :func:`sr_config`).
#: ``fast``: CPU-friendly: 64 channels, 200 iterations per scale, long side 160 px (not in the paper).
PRESETS: dict[str, SinIRConfig] = {
    "paper": _PAPER,
    "photo_style": replace(_PAPER, scale_factor=1.0, num_scales=2),
    "art_style": replace(_PAPER, max_size=500),
    "sr": sr_config(_PAPER, 4.0),
    "fast": replace(_PAPER, channels=64, iters=200, max_size=160),
}
