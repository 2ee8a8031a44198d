"""Editing and harmonization: inject a composite, then paste the result back through a mask.

SinGAN sec. 4: "we inject a downsampled version of the composite into one of
the coarse scales.  We then combine SinGAN's output at the edited regions,
with the original image."  Editing and harmonization differ only in what the
model was trained on (the original image / the background) and in the mask
dilation (disk radius 20 / 7 px, official ``functions.dilate_mask``).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ..core.capabilities import Injectable
from .inject import check_scale, fit_to_model, inject, output_size, training_image
from .masks import BLUR_SIGMA, blend, prepare_mask

__all__ = ["BlendResult", "edit", "harmonize"]


class BlendResult(NamedTuple):
    """Output of :func:`edit` / :func:`harmonize`, all at the model's finest size.

    Attributes:
        blended: ``(num, 3, H, W)`` in ``[-1, 1]``: ``(1 - m) * real + m * raw``.
        raw: ``(num, 3, H, W)`` in ``[-1, 1]``: the generators' output before blending.
        mask: ``(1, 1, H, W)`` in ``[0, 1]``: the dilated, blurred mask used.
    """

    blended: torch.Tensor
    raw: torch.Tensor
    mask: torch.Tensor


@torch.no_grad()
def edit(
    model: Injectable,
    image: torch.Tensor,
    scale: int,
    *,
    mask: torch.Tensor,
    dilation_radius: int | None = None,
    blur_sigma: float = BLUR_SIGMA,
    invert_mask: bool | None = None,
    num: int = 1,
    generator: torch.Generator | int | None = None,
) -> BlendResult:
    """Make copy-pasted regions of ``image`` seamless (SinGAN sec. 4 "Editing", fig. 12).

    The model must be trained on the ORIGINAL (unedited) image; ``image`` is
    that image with regions copied / moved; ``mask`` marks them.

    Args:
        model: any injectable model.
        image: ``(1, 3, H, W)`` in ``[-1, 1]``: the edited image (resized to the
            model's size with a warning if needed).
        scale: injection scale index (0 = coarsest); the paper and the course
            report find 2-4 from the coarsest best.
        mask: ``(1, 1, H, W)`` in ``[0, 1]``, white = edited region (RGB/RGBA
            files: load with :func:`sinkit.core.io.load_mask`); resized,
            binarised, dilated and blurred by :func:`~sinkit.tasks.masks.prepare_mask`.
        dilation_radius: disk radius in px at the model's output size; None: the
            method's official value, ``model.mask_dilation["edit"]`` (SinGAN 20, SinIR 7).
        blur_sigma: Gaussian sigma in px (official 5).
        invert_mask: force (True / False) or detect (None) an inverted mask.
        num: number of outputs (different noise).
        generator: seed or ``torch.Generator``.

    Returns:
        :class:`BlendResult` ``(blended, raw, mask)``.

    Raises:
        ValueError: scale outside the valid range, bad shapes, empty mask.
    """
    return _inject_and_blend(model, "edit", image, scale, mask, dilation_radius, blur_sigma, invert_mask, num, generator)


@torch.no_grad()
def harmonize(
    model: Injectable,
    image: torch.Tensor,
    scale: int,
    *,
    mask: torch.Tensor,
    dilation_radius: int | None = None,
    blur_sigma: float = BLUR_SIGMA,
    invert_mask: bool | None = None,
    num: int = 1,
    generator: torch.Generator | int | None = None,
) -> BlendResult:
    """Blend a pasted object into the background the model was trained on (SinGAN sec. 4, fig. 13).

    Same as :func:`edit` with the method's official harmonization disk,
    ``model.mask_dilation["harmonize"]`` (SinGAN 7 px; SinIR's code uses 20).
    The model must be trained on the background image; ``image`` is the naive
    composite and ``mask`` marks the pasted object.  "Scales 2, 3, 4 typically
    lead to good balance between preserving the object's structure and
    transferring the background's texture" (paper, counted from the coarsest).

    Args, returns and raises: as :func:`edit`.
    """
    return _inject_and_blend(model, "harmonize", image, scale, mask, dilation_radius, blur_sigma, invert_mask, num, generator)


def _official_radius(model: Injectable, task: str) -> int:
    """The method's own official radius (class attribute ``mask_dilation = {"edit": r, "harmonize": r}``).

    Raises:
        ValueError: the method declares none (pass ``dilation_radius``).
    """
    radii = getattr(model, "mask_dilation", None)
    if not radii or task not in radii:
        raise ValueError(f"{model.method} declares no official {task} mask dilation: give dilation_radius (--dilation)")
    return int(radii[task])


def _inject_and_blend(model, task, image, scale, mask, dilation_radius, blur_sigma, invert_mask, num, generator) -> BlendResult:
    check_scale(model, scale)
    dilation_radius = _official_radius(model, task) if dilation_radius is None else dilation_radius
    image = fit_to_model(image, model, name="input")
    real = training_image(model).to(image.device)
    m = prepare_mask(
        mask.to(image.device),
        output_size(model),
        dilation_radius=dilation_radius,
        blur_sigma=blur_sigma,
        invert=invert_mask,
        image=image,
        reference=real,
    )
    raw = inject(model, image, scale, num=num, generator=generator)
    return BlendResult(blend(raw, real, m), raw, m)
