"""Injection: the one mechanism behind every manipulation task (SinGAN sec. 4, SinIR sec. 3.3).

"Manipulation can be done by injecting (a possibly downsampled version of) an
image into the generation pyramid at some scale n < N, and feed forwarding it
through the generators so as to match its patch distribution to that of the
training image" (SinGAN sec. 4).  Paint-to-image, editing, harmonization and
style transfer are this function plus pre- and post-processing.

Everything here is model-agnostic: it needs only the
:class:`~sinkit.core.capabilities.Injectable` capability (a pyramid's
``injection_input`` + ``run_scales``, or a method's own injection), and a
model without it gets a clear :class:`~sinkit.core.errors.CapabilityError`.
"""

from __future__ import annotations

import warnings
from typing import Callable, Iterable, Sequence

import torch

from ..core.capabilities import Injectable, check_injection_scale, require
from ..core.resize import resize
from .masks import InputAdjustedWarning

__all__ = ["inject", "injection_sweep", "fit_to_model", "shape_size", "check_scale", "as_generator", "output_size", "training_image"]


def output_size(model: Injectable) -> tuple[int, int]:
    """``(height, width)`` of the model's output at the training shape (finest TRAINED scale of a pyramid)."""
    require(model, Injectable, "inject images")
    return tuple(model.output_size())


def training_image(model: Injectable) -> torch.Tensor:
    """The training image at :func:`output_size`, ``(1, 3, h, w)`` in ``[-1, 1]``."""
    require(model, Injectable, "inject images")
    return model.training_image()


def as_generator(generator: torch.Generator | int | None) -> torch.Generator | None:
    """An integer seed becomes a CPU ``torch.Generator``; a generator or None passes through."""
    if isinstance(generator, int):
        return torch.Generator().manual_seed(generator)
    return generator


def check_scale(model: Injectable, scale: int) -> int:
    """Return ``scale`` if it is a valid injection scale of ``model``.

    Raises:
        CapabilityError: the model cannot take injected images.
        ValueError: outside :meth:`valid_injection_scales` (the message lists the range).
    """
    return check_injection_scale(model, scale)


def _check_image(image: torch.Tensor, name: str = "image") -> None:
    if not torch.is_tensor(image) or image.dim() != 4 or image.shape[1] != 3:
        shape = tuple(image.shape) if torch.is_tensor(image) else type(image).__name__
        raise ValueError(f"expected {name} as a (B, 3, H, W) tensor in [-1, 1], got {shape}")


def fit_to_model(image: torch.Tensor, model: Injectable, *, name: str = "input") -> torch.Tensor:
    """Resize ``image`` to the model's output size, warning when that changes it.

    The official scripts resize the reference image to the training image's
    size (``imresize_to_shape``); a different aspect ratio is stretched, which
    the warning says.

    Args:
        image: ``(1, 3, H, W)`` in ``[-1, 1]``.
        model: any injectable model.
        name: how the warning calls the image ("input", "paint"...).

    Returns:
        ``(1, 3, h, w)`` at :func:`output_size`, on the model's device.

    Raises:
        ValueError: not a ``(B, 3, H, W)`` tensor.
    """
    _check_image(image, name)
    size = output_size(model)
    image = image.to(model.device)
    if tuple(image.shape[-2:]) != size:
        h, w = image.shape[-2:]
        stretch = abs((w / h) / (size[1] / size[0]) - 1)
        note = f" (aspect ratio changes by {100 * stretch:.0f}%: the image is stretched)" if stretch > 0.02 else ""
        warnings.warn(
            f"{name} is {h}x{w} px, the model's image {size[0]}x{size[1]}: resized it{note}",
            InputAdjustedWarning,
            stacklevel=2,
        )
        image = resize(image, size)
    return image


def shape_size(model: Injectable, image: torch.Tensor) -> tuple[int, int]:
    """Output size for generating at ``image``'s aspect ratio: the model's height, the width that keeps
    the ratio (the generators are fully convolutional, as for SinGAN's "arbitrary size" samples)."""
    h, w = output_size(model)
    ih, iw = image.shape[-2:]
    return h, max(1, round(w * (iw / ih) / (w / h)))


@torch.no_grad()
def inject(
    model: Injectable,
    image: torch.Tensor,
    scale: int,
    *,
    num: int = 1,
    noise: str = "random",
    generator: torch.Generator | int | None = None,
    keep_shape: bool = False,
) -> torch.Tensor:
    """Inject ``image`` at ``scale`` and run the generators from there to the finest scale.

    ``model.inject``: for a pyramid ``x_up = model.injection_input(image, scale)``
    (SinGAN: the image downsampled to scale ``scale - 1`` and upsampled to
    ``scale``, as the official scripts do), then ``model.run_scales(x_up, scale, noise=noise)``.

    Args:
        model: any :class:`~sinkit.core.capabilities.Injectable` model.
        image: ``(1, 3, H, W)`` in ``[-1, 1]``, any size: resized to the
            model's shape (warning if that changes it), or generated at its own
            aspect ratio with ``keep_shape``.
        scale: injection scale, an index from the coarsest (paper's ``N - scale``);
            must be in ``model.valid_injection_scales()`` (SinGAN: 1..N, as its
            coarsest scale takes pure noise; SinIR: 0..N).
        num: number of outputs (different noise each).
        noise: ``"random"`` (paper), ``"zero"`` (deterministic; with the real
            image this follows the reconstruction path) or ``"reconstruction"``.
        generator: seed or ``torch.Generator`` for the noise.
        keep_shape: keep ``image``'s aspect ratio instead of stretching it to the
            training image's (the output has the training image's height).

    Returns:
        ``(num, 3, h, w)`` in ``[-1, 1]`` at the finest scale.

    Raises:
        CapabilityError: the model cannot take injected images.
        ValueError: bad image shape, or ``scale`` outside the valid range (the
            message lists the range).
    """
    _check_image(image)
    check_scale(model, scale)
    if num < 1:
        raise ValueError(f"num must be >= 1, got {num}")
    if keep_shape:
        return model.inject(image, scale, num=num, size=shape_size(model, image), noise=noise, generator=as_generator(generator))
    return model.inject(fit_to_model(image, model, name="input"), scale, num=num, noise=noise, generator=as_generator(generator))


def injection_sweep(
    model: Injectable,
    image: torch.Tensor,
    scales: Iterable[int] | None = None,
    *,
    task: Callable[..., torch.Tensor] | None = None,
    seed: int = 0,
    **kwargs,
) -> dict[int, object]:
    """Run a task at several injection scales with the same seed, to choose the scale by eye.

    Coarser injection (small index) changes large structures, finer injection
    only textures and colours (SinGAN sec. 4; course report fig. 9).

    Args:
        model: any injectable model.
        image: the task's input image ``(1, 3, H, W)``.
        scales: indices to try (default: every valid injection scale).
        task: ``task(model, image, scale, generator=..., **kwargs)``; default :func:`inject`.
            :func:`~sinkit.tasks.edit`, :func:`~sinkit.tasks.harmonize` and
            :func:`~sinkit.tasks.paint_to_image` fit.
        seed: every scale gets a generator seeded with it.
        kwargs: passed to ``task`` (e.g. ``mask=`` for editing).

    Returns:
        ``{scale: task output}`` in increasing scale order.

    Raises:
        ValueError: a scale outside the valid range.
    """
    task = task or inject
    require(model, Injectable, "inject images (paint, edit, harmonize, transfer)")
    chosen: Sequence[int] = list(model.valid_injection_scales()) if scales is None else sorted(set(scales))
    for s in chosen:
        check_scale(model, s)
    return {s: task(model, image, s, generator=torch.Generator().manual_seed(seed), **kwargs) for s in chosen}
