"""The HR / LR pair PetsGAN trains on (paper "Training Details"; official ``_read_image``)."""

from __future__ import annotations

import torch

from ..core.resize import resize

__all__ = ["prepare_images", "prepare_hr_target", "hr_size", "MIN_LR_SIDE"]

#: smallest LR side: the 7x7 patch transfer and DEPNet's three stride-2 discriminator blocks need room.
MIN_LR_SIDE = 12


def hr_size(height: int, width: int, max_size: int = 256, factor: int = 8) -> tuple[int, int]:
    """HR size: long side at most ``max_size`` (never enlarged), both sides floored to multiples of ``factor``.

    Raises:
        ValueError: the LR image (``HR / factor``) would have a side below :data:`MIN_LR_SIDE`.
    """
    scale = min(1.0, max_size / max(height, width))
    h = int(round(height * scale)) // factor * factor
    w = int(round(width * scale)) // factor * factor
    if min(h, w) // factor < MIN_LR_SIDE:
        need = MIN_LR_SIDE * factor
        raise ValueError(
            f"image too small for PetsGAN: {height}x{width} px gives an HR image of {h}x{w} and an LR image of "
            f"{h // factor}x{w // factor}; the short side must reach {need} px after limiting the long side to "
            f"{max_size} (LR side >= {MIN_LR_SIDE} at factor {factor})"
        )
    return h, w


def prepare_images(image: torch.Tensor, max_size: int = 256, factor: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """``(HR, LR)`` for a training image.

    Args:
        image: ``(1, 3, H, W)`` in ``[-1, 1]``.
        max_size: long side of HR (official 256).
        factor: LR = HR / factor (official 8).

    Returns:
        ``HR (1, 3, h*factor, w*factor)`` and ``LR (1, 3, h, w)``, both in ``[-1, 1]``
        (antialiased bicubic, :func:`sinkit.core.resize.resize`).

    Raises:
        ValueError: not a single RGB image, or too small (:func:`hr_size`).
    """
    if image.dim() != 4 or image.shape[:2] != (1, 3):
        raise ValueError(f"expected one RGB image (1, 3, H, W), got shape {tuple(image.shape)}")
    h, w = hr_size(image.shape[-2], image.shape[-1], max_size, factor)
    hr = resize(image, (h, w))
    return hr, resize(hr, (h // factor, w // factor))


def prepare_hr_target(image: torch.Tensor, hr_shape: tuple[int, int], scale: int) -> torch.Tensor:
    """The x``scale`` extension's target: the image at ``scale`` times the HR size.

    Raises:
        ValueError: the image is smaller than that (the extension would learn an upsampled target).
    """
    h, w = hr_shape[0] * scale, hr_shape[1] * scale
    if image.shape[-2] < h or image.shape[-1] < w:
        raise ValueError(
            f"image too small for the x{scale} extension: it is {image.shape[-2]}x{image.shape[-1]} px, the target "
            f"is {h}x{w} px (x{scale} the {hr_shape[0]}x{hr_shape[1]} HR image); use hr_scale=1"
        )
    return resize(image, (h, w))
