"""Full-reference fidelity for super-resolution and reconstruction: PSNR, RMSE, SSIM, MS-SSIM.

Inputs are ``(B, 3, H, W)`` tensors in ``[-1, 1]`` of equal shape; every score
is averaged over the batch.  SSIM comes from kornia, MS-SSIM from
pytorch-msssim (both maintained implementations of Wang et al.), evaluated on
``[0, 1]`` images with an 11x11 Gaussian window, sigma 1.5.
"""

from __future__ import annotations

import math

import torch

from ._checks import check_images, check_same_shape

__all__ = ["rmse", "psnr", "ssim", "ms_ssim"]


def _prepare(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    check_images(a, "a")
    check_images(b, "b")
    check_same_shape(a, b)
    return ((a.float().clamp(-1, 1) + 1) / 2), ((b.float().clamp(-1, 1) + 1) / 2)


def rmse(a: torch.Tensor, b: torch.Tensor) -> float:
    """Root mean squared error on the 0-255 scale (as the SR tables of SinGAN / SinIR report).

    Per image over all pixels and channels, then averaged over the batch.
    No quantisation to 8 bit happens here.
    """
    x, y = _prepare(a, b)
    return float((((x - y) * 255.0) ** 2).flatten(1).mean(1).sqrt().mean())


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB, peak 255 (``20 log10(255 / RMSE)`` per image, batch mean).

    Identical images give ``inf``.
    """
    x, y = _prepare(a, b)
    mse = (((x - y) * 255.0) ** 2).flatten(1).mean(1)
    vals = [math.inf if m == 0 else 10 * math.log10(255.0**2 / float(m)) for m in mse]
    return float(sum(vals) / len(vals))


def ssim(a: torch.Tensor, b: torch.Tensor, window_size: int = 11) -> float:
    """Structural similarity (Wang et al. 2004) via ``kornia.metrics.ssim``: 1 for identical images.

    Gaussian window ``window_size`` (sigma 1.5), constants K1 = 0.01, K2 = 0.03 on
    ``[0, 1]`` data; the SSIM map is averaged over pixels, channels and the batch
    (kornia pads the borders; scikit-image's default crops them, so the two
    differ by a fraction of a percent).
    """
    import kornia.metrics

    x, y = _prepare(a, b)
    return float(kornia.metrics.ssim(x, y, window_size, max_val=1.0).mean())


def ms_ssim(a: torch.Tensor, b: torch.Tensor, window_size: int = 11) -> float:
    """Multi-scale SSIM (Wang et al. 2003) via ``pytorch_msssim.ms_ssim``: 1 for identical images.

    Five scales with the standard weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333).
    The library needs the short side to exceed ``(window - 1) * 16`` px (161 px
    for the standard 11 px window).  For smaller images the window shrinks to the
    largest odd size that fits (at least 3 px), so small benchmark images still
    get a number; this is a deviation from the standard metric, used only below
    161 px (the SR tables' images are larger).

    Raises:
        ValueError: short side of 32 px or less (no window fits), or bad input.
        ImportError: pytorch-msssim is not installed (``pip install sinkit[eval]``).
    """
    try:
        from pytorch_msssim import ms_ssim as _ms_ssim
    except ImportError as err:
        raise ImportError("MS-SSIM needs pytorch-msssim: pip install 'sinkit[eval]'") from err

    x, y = _prepare(a, b)
    side = min(x.shape[-2:])
    win = window_size
    while win > 3 and side <= (win - 1) * 16:
        win -= 2
    if side <= (win - 1) * 16:
        raise ValueError(f"MS-SSIM needs images larger than 32 px on the short side, got {side}")
    return float(_ms_ssim(x, y, data_range=1.0, win_size=win))
