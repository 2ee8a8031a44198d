"""Paint-to-image: turn a clipart into a photo-realistic image (SinGAN sec. 4, fig. 11).

"This is done by downsampling the clipart image and feeding it into one of the
coarse scales (e.g. N-1 or N-2)."  Optional colour quantisation (official
``paint2image.py --quantization_flag``): k-means with k = 5 on the training
image at the injection scale, and every paint pixel mapped to its nearest
centre, so the paint uses the training image's colours.

Deviations from the official code (documented in docs/tasks.md):

* the official code then RETRAINS the generator of the injection scale on
  quantised inputs (``train_paint``); that is method-specific and costs a full
  scale of training, so it is not done here: the quantised paint is injected
  into the model as trained.
* the official ``quant`` reshapes a ``(1, 3, H, W)`` tensor to ``(-1, 3)``,
  which mixes channels (rows are 3 neighbouring values of one channel, not
  one pixel's RGB); here k-means runs on real RGB triplets.
* the official ``quant2centers`` refits k-means on the paint starting from the
  centres; here each paint pixel takes its nearest centre (no refit), which
  is what the refit's labels approximate.
"""

from __future__ import annotations

import torch
from scipy.cluster.vq import kmeans2, vq

from ..core.capabilities import Injectable
from .inject import as_generator, check_scale, fit_to_model, inject

__all__ = ["color_centers", "quantize_colors", "quantize_paint", "paint_to_image"]


def color_centers(image: torch.Tensor, k: int = 5, *, seed: int = 0) -> torch.Tensor:
    """k-means colour centres of an image (official ``functions.quant``, k = 5).

    Args:
        image: ``(1, 3, H, W)`` in ``[-1, 1]``.
        k: number of colours.
        seed: k-means++ initialisation seed (deterministic).

    Returns:
        ``(k, 3)`` float tensor in ``[-1, 1]``, on ``image``'s device.

    Raises:
        ValueError: bad shape, or ``k`` below 1 or above the number of pixels.
    """
    if image.dim() != 4 or image.shape[:2] != (1, 3):
        raise ValueError(f"expected a (1, 3, H, W) image, got {tuple(image.shape)}")
    pixels = image[0].permute(1, 2, 0).reshape(-1, 3).double().cpu().numpy()
    if not 1 <= k <= len(pixels):
        raise ValueError(f"k must be in 1..{len(pixels)}, got {k}")
    centers, _ = kmeans2(pixels, k, minit="++", seed=seed)
    return torch.from_numpy(centers).float().to(image.device)


def quantize_colors(image: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """Replace every pixel of ``image`` by its nearest colour in ``centers`` (Euclidean, RGB).

    Anti-aliased edges of a clipart (blends of two flat colours) go to whichever
    centre is nearer, so the result has only the ``k`` colours.

    Args:
        image: ``(B, 3, H, W)`` in ``[-1, 1]``.
        centers: ``(k, 3)`` in ``[-1, 1]``.

    Returns:
        ``(B, 3, H, W)``, each pixel one of ``centers``.
    """
    b, _, h, w = image.shape
    pixels = image.permute(0, 2, 3, 1).reshape(-1, 3)
    labels, _ = vq(pixels.double().cpu().numpy(), centers.double().cpu().numpy())
    out = centers[torch.from_numpy(labels).to(centers.device)]
    return out.reshape(b, h, w, 3).permute(0, 3, 1, 2).contiguous().to(image.device)


def quantize_paint(model: Injectable, paint: torch.Tensor, scale: int, *, k: int = 5) -> torch.Tensor:
    """The paint in the ``k`` main colours of the training image at ``scale`` (official quantisation).

    Args:
        model: any injectable model (uses ``model.image_at_scale(scale)``).
        paint: ``(1, 3, H, W)`` in ``[-1, 1]`` (resized to the model's size with a warning).
        scale: injection scale index.
        k: number of colours (official 5).

    Returns:
        ``(1, 3, h, w)`` at the model's finest size, only ``k`` distinct colours.

    Raises:
        ValueError: scale outside the valid range, bad shapes.
    """
    check_scale(model, scale)
    paint = fit_to_model(paint, model, name="paint")
    return quantize_colors(paint, color_centers(model.image_at_scale(scale), k))


@torch.no_grad()
def paint_to_image(
    model: Injectable,
    paint: torch.Tensor,
    scale: int,
    *,
    quantize: bool = False,
    k: int = 5,
    num: int = 1,
    generator: torch.Generator | int | None = None,
    keep_shape: bool = False,
) -> torch.Tensor:
    """Turn a clipart ``paint`` into an image with the training image's textures.

    Args:
        model: any injectable model (trained on the target image, e.g. a photo).
        paint: ``(1, 3, H, W)`` in ``[-1, 1]``: flat-colour clipart.
        scale: injection scale index; the paper uses N-1 or N-2, i.e. 1 or 2.
        quantize: first map the paint to the training image's ``k`` main colours
            at ``scale`` (:func:`quantize_paint`; no retraining, see module doc).
        k: colours for ``quantize``.
        num: number of outputs (different noise).
        generator: seed or ``torch.Generator``.
        keep_shape: generate at the paint's aspect ratio instead of stretching it
            to the training image's.

    Returns:
        ``(num, 3, h, w)`` in ``[-1, 1]``.

    Raises:
        ValueError: scale outside the valid range, bad shapes.
    """
    check_scale(model, scale)
    paint = paint.to(model.device) if keep_shape else fit_to_model(paint, model, name="paint")
    if quantize:
        paint = quantize_colors(paint, color_centers(model.image_at_scale(scale), k))
    return inject(model, paint, scale, num=num, generator=as_generator(generator), keep_shape=keep_shape)
