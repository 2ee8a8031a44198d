"""Masks for editing and harmonization: clean up what users hand us, then blend.

SinGAN sec. 4 ("Editing", "Harmonization") combines the generated image with
the original outside the edited region::

    out = (1 - m) * real + m * generated

where ``m`` is the user's mask made binary, dilated with a disk (radius 20 px
for editing, 7 px for harmonization), blurred with a Gaussian (sigma 5 px) and
rescaled to ``[0, 1]`` (official ``functions.dilate_mask``).  Radii and sigma
are in pixels of the model's finest scale, as in the official code (which
assumes the 250 px ``paper`` pyramid; on a 128 px ``fast`` model the same
radius covers about twice the relative area).

Deviation from the official code: it binarises with ``mask > 0`` on the red
channel of an 8-bit image, which turns JPEG ringing around a mask into
selected pixels; here the mask is thresholded at 0.5 (of full scale) on the
luminance / alpha that :func:`sinkit.core.io.load_mask` returns.
"""

from __future__ import annotations

import warnings

import torch
from kornia.filters import gaussian_blur2d
from kornia.morphology import dilation

from ..core.resize import resize

__all__ = [
    "InputAdjustedWarning",
    "BLUR_SIGMA",
    "disk",
    "binarize_mask",
    "mask_is_inverted",
    "prepare_mask",
    "blend",
]

#: official blur sigma, px (SinGAN ``functions.dilate_mask``); dilation radii are per method
#: (``model.mask_dilation``)
BLUR_SIGMA = 5.0


class InputAdjustedWarning(UserWarning):
    """An input was changed to make it usable (resized, inverted...); the message says how."""


def disk(radius: int, *, device: torch.device | str | None = None) -> torch.Tensor:
    """Disk structuring element: ``(2r + 1, 2r + 1)`` float tensor, 1 where ``x^2 + y^2 <= r^2``.

    Same element as ``skimage.morphology.disk(radius)`` used by the official code.

    Raises:
        ValueError: negative radius.
    """
    if radius < 0:
        raise ValueError(f"disk radius must be >= 0 px, got {radius}")
    r = torch.arange(-radius, radius + 1, device=device, dtype=torch.float32)
    return ((r[:, None] ** 2 + r[None, :] ** 2) <= radius**2).float()


def binarize_mask(mask: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Hard 0/1 mask from a soft one: ``mask >= threshold``.

    Args:
        mask: ``(B, 1, H, W)`` in ``[0, 1]`` (as :func:`sinkit.core.io.load_mask` returns).
        threshold: cut-off in ``(0, 1]``.

    Returns:
        ``(B, 1, H, W)`` float tensor of 0 and 1.

    Raises:
        ValueError: wrong shape, or nothing selected (the message distinguishes an
            all-black mask from a faint one whose maximum is below ``threshold``).
    """
    _check_mask(mask)
    hard = (mask >= threshold).float()
    if hard.sum() == 0:
        peak = float(mask.max())
        if peak <= 0:
            raise ValueError("mask is empty (all black): paint the region to change in white")
        raise ValueError(
            f"mask selects nothing: its brightest pixel is {peak:.2f}, below the threshold {threshold}; "
            "use white (1.0) for the region to change"
        )
    return hard


def mask_is_inverted(mask: torch.Tensor, image: torch.Tensor, reference: torch.Tensor) -> bool:
    """Guess whether a mask marks the unchanged area instead of the edited one.

    The region a user edited (pasted object, moved patch) is where ``image``
    differs from ``reference`` (the training image); a correct mask covers it.
    The mask is called inverted when the mean absolute difference outside it
    is more than twice the difference inside it.

    Args:
        mask: ``(1, 1, H, W)`` hard mask (0/1).
        image, reference: ``(1, 3, H, W)`` in ``[-1, 1]``, same size as ``mask``.

    Returns:
        True when the evidence says the mask is inverted; False when it is
        right or when there is no clear evidence (e.g. identical images).
    """
    diff = (image - reference).abs().mean(dim=1, keepdim=True)
    inside = mask.sum()
    outside = (1 - mask).sum()
    if inside == 0 or outside == 0:
        return False
    mean_in = float((diff * mask).sum() / inside)
    mean_out = float((diff * (1 - mask)).sum() / outside)
    return mean_out > 2.0 * mean_in and mean_out > 0.02


def prepare_mask(
    mask: torch.Tensor,
    size: tuple[int, int],
    *,
    dilation_radius: int,
    blur_sigma: float = BLUR_SIGMA,
    invert: bool | None = None,
    image: torch.Tensor | None = None,
    reference: torch.Tensor | None = None,
) -> torch.Tensor:
    """Official mask pipeline: resize, binarise, dilate with a disk, blur, rescale to ``[0, 1]``.

    Inputs users get wrong are fixed and reported with an
    :class:`InputAdjustedWarning`: a mask of another size is resized to
    ``size``; an RGB / RGBA mask was already reduced to one channel by
    :func:`~sinkit.core.io.load_mask` (pass its output, or a 3-channel tensor
    which is averaged here); a soft mask is thresholded at 0.5; with
    ``invert=None`` an inverted mask is detected from ``image`` and
    ``reference`` (see :func:`mask_is_inverted`) and flipped.

    Args:
        mask: ``(1, 1, H, W)`` or ``(1, 3, H, W)`` in ``[0, 1]``, 1 = region to regenerate.
        size: ``(height, width)`` of the model's finest scale, px.
        dilation_radius: disk radius in px at ``size`` (SinGAN's official: 20 editing, 7 harmonization;
            each method's in ``model.mask_dilation``).
        blur_sigma: Gaussian sigma in px (official 5); kernel radius ``4 * sigma``
            as ``skimage.filters.gaussian``; 0 disables.
        invert: True / False to force; None to detect (needs ``image`` and ``reference``).
        image, reference: ``(1, 3, h, w)`` in ``[-1, 1]`` at ``size`` (the user's
            input and the training image), only for detecting inversion.

    Returns:
        ``(1, 1, h, w)`` soft mask in ``[0, 1]`` (max exactly 1).

    Raises:
        ValueError: wrong shape, empty mask, negative radius or sigma.
    """
    if mask.dim() == 4 and mask.shape[1] == 3:
        mask = mask.mean(dim=1, keepdim=True)
    _check_mask(mask)
    if blur_sigma < 0:
        raise ValueError(f"blur sigma must be >= 0 px, got {blur_sigma}")
    soft = ((mask > 0.02) & (mask < 0.98)).float().mean()  # before resizing, which greys every edge
    if soft > 0.05:
        warnings.warn(
            f"mask is soft ({100 * float(soft):.0f}% grey pixels): thresholded at 0.5", InputAdjustedWarning, stacklevel=2
        )
    if tuple(mask.shape[-2:]) != tuple(size):
        warnings.warn(
            f"mask is {mask.shape[-2]}x{mask.shape[-1]} px, the model's image {size[0]}x{size[1]}: resized it",
            InputAdjustedWarning,
            stacklevel=2,
        )
        mask = resize(mask, size, clamp=False).clamp(0.0, 1.0)
    hard = binarize_mask(mask)
    if invert is None and image is not None and reference is not None:
        invert = mask_is_inverted(hard, image, reference)
        if invert:
            warnings.warn(
                "the input differs from the training image mostly OUTSIDE the mask, so the mask looks inverted "
                "(white must mark the edited region): inverted it; pass invert=False (--no-invert-mask) to keep it",
                InputAdjustedWarning,
                stacklevel=2,
            )
    if invert:
        hard = 1.0 - hard
        if hard.sum() == 0:
            raise ValueError("inverted mask is empty: the mask was all white")
    if hard.min() == 1:
        warnings.warn("mask selects the whole image: the result is the raw generated image", InputAdjustedWarning, stacklevel=2)
        return hard
    out = hard
    if dilation_radius > 0:
        out = dilation(out, disk(dilation_radius, device=out.device))
    if blur_sigma > 0:
        radius = int(4 * blur_sigma + 0.5)
        out = gaussian_blur2d(out, (2 * radius + 1, 2 * radius + 1), (blur_sigma, blur_sigma), border_type="replicate")
    lo, hi = out.min(), out.max()
    return ((out - lo) / (hi - lo)).clamp(0.0, 1.0) if hi > lo else torch.ones_like(out)


def blend(generated: torch.Tensor, real: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(1 - m) * real + m * generated`` (SinGAN sec. 4, editing and harmonization).

    Args:
        generated: ``(B, 3, H, W)`` in ``[-1, 1]``.
        real: ``(1 or B, 3, H, W)`` in ``[-1, 1]``: the training image.
        mask: ``(1 or B, 1, H, W)`` in ``[0, 1]``, e.g. from :func:`prepare_mask`.

    Raises:
        ValueError: sizes differ.
    """
    if generated.shape[-2:] != real.shape[-2:] or mask.shape[-2:] != real.shape[-2:]:
        raise ValueError(
            f"blend needs equal sizes, got generated {tuple(generated.shape)}, real {tuple(real.shape)}, mask {tuple(mask.shape)}"
        )
    return (1.0 - mask) * real + mask * generated


def _check_mask(mask: torch.Tensor) -> None:
    if not torch.is_tensor(mask) or mask.dim() != 4 or mask.shape[1] != 1:
        shape = tuple(mask.shape) if torch.is_tensor(mask) else type(mask).__name__
        raise ValueError(f"expected a (B, 1, H, W) mask in [0, 1], got {shape}")
