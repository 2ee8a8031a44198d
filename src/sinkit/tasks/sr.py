"""Super-resolution with a model trained on the low-resolution image (SinGAN sec. 4, fig. 10).

"At test time we upsample the LR image by a factor of r and inject it
(together with noise) to the last generator, G_0.  We repeat this k times to
obtain the final high-res output", with ``r = s ** (1 / k)`` the pyramid's
scale factor.  Model-agnostic: ``r = 1 / model.spec.scale_factor``; SinGAN
trains with ``r = 4 ** (1 / 6) ~ 1.26`` (``sinkit train --task sr``), SinIR
with ``r = 2`` (x4 = two x2 passes).
"""

from __future__ import annotations

import math

import torch

from ..core.capabilities import require
from ..core.pyramid_model import PyramidModel
from ..core.resize import resize
from .inject import as_generator, training_image

__all__ = ["sr_steps", "upscale"]


def sr_steps(model: PyramidModel, factor: float) -> tuple[int, float]:
    """Number of passes ``k`` and per-pass factor ``r`` for upscaling by ``factor``.

    ``r = 1 / model.spec.scale_factor`` and ``k = round(log(factor) / log(r))``
    (official ``calc_init_scale`` rounds the same way).

    Raises:
        CapabilityError: not a pyramid model.
        ValueError: ``factor`` <= 1, or a model with a single scale (no ratio).
    """
    require(model, PyramidModel, "upscale images (super-resolution runs the finest generator of a pyramid)")
    if not (factor > 1 and math.isfinite(factor)):
        raise ValueError(f"upscaling factor must be a finite number > 1, got {factor}")
    if not 0 < model.spec.scale_factor < 1:
        raise ValueError(f"the model's pyramid has no scale ratio (scale_factor {model.spec.scale_factor}); cannot upscale")
    r = 1.0 / model.spec.scale_factor
    return max(1, round(math.log(factor) / math.log(r))), r


@torch.no_grad()
def upscale(
    model: PyramidModel,
    image: torch.Tensor | None = None,
    factor: float = 4.0,
    *,
    noise: str = "random",
    generator: torch.Generator | int | None = None,
    return_all: bool = False,
) -> torch.Tensor | list[torch.Tensor]:
    """Upscale ``image`` by ``factor``: ``k`` times, resize by ``r`` and apply the finest generator.

    Intermediate sizes are ``round(H * factor ** (j / k))`` for ``j = 1..k``, so
    the output is exactly ``round(H * factor) x round(W * factor)`` even when
    ``r ** k`` differs slightly from ``factor`` (it is ``factor`` for a model
    trained with ``--task sr --factor`` of the same value).

    Args:
        model: model trained on the low-resolution image (best with
            ``sinkit train --task sr``: alpha 100 and the SR pyramid).
        image: ``(1, 3, H, W)`` in ``[-1, 1]``; default the training image
            at the finest trained scale, as the official ``SR.py`` does.
        factor: total upscaling factor (> 1).
        noise: ``"random"`` (official) or ``"zero"`` (deterministic).
        generator: seed or ``torch.Generator`` for the noise.
        return_all: also return every intermediate pass.

    Returns:
        ``(1, 3, round(H * factor), round(W * factor))`` in ``[-1, 1]``, or the
        list of the ``k`` pass outputs (last = result) with ``return_all``.

    Raises:
        ValueError: bad image shape or factor.
    """
    image = training_image(model) if image is None else image
    if image.dim() != 4 or image.shape[1] != 3:
        raise ValueError(f"expected a (B, 3, H, W) image in [-1, 1], got {tuple(image.shape)}")
    k, _ = sr_steps(model, factor)
    generator = as_generator(generator)
    finest = model.num_scales - 1
    h, w = image.shape[-2:]
    x = image.to(model.device)
    outputs = []
    for j in range(1, k + 1):
        size = (round(h * factor ** (j / k)), round(w * factor ** (j / k)))
        x = model.forward_scale(finest, resize(x, size), noise=noise, generator=generator).clamp(-1.0, 1.0)
        outputs.append(x)
    return outputs if return_all else outputs[-1]
