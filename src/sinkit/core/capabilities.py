"""What a trained model can do, declared by mixin classes and checked before use.

Commands and tasks never assume a model is a SinGAN-like pyramid: they call
:func:`require` with the capability they need, and a model without it gets a
one-line :class:`~sinkit.core.errors.CapabilityError` that names its method and
repeats the method's own ``usage`` line ("DeepSIM models translate primitives:
use `sinkit translate`"), never an ``AttributeError``.

* :class:`Sampler` -- unconditional random samples of any size (``sinkit sample``, ``bench``).
* :class:`Translator` -- maps a condition (a primitive: edges, segmentation...) to an image
  (``sinkit translate``).
* :class:`Injectable` -- an image can be injected at some scale and completed with the
  model's patch statistics (paint-to-image, editing, harmonization, style transfer).
* :class:`~sinkit.core.pyramid_model.PyramidModel` -- a coarse-to-fine pyramid of per-scale
  generators (SinGAN, SinIR); it is a sampler and injectable, and also allows
  super-resolution and noise-space animation where the method supports them.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Mapping

import torch

from .errors import CapabilityError

__all__ = ["Sampler", "Translator", "Injectable", "require", "check_sample_args", "check_injection_scale", "CapabilityError", "describe_capabilities"]


class Sampler(ABC):
    """Draws random samples of any size (SinGAN sec. 3; PetsGAN; GPNN...)."""

    #: False when the output does not depend on the noise (SinIR): all "samples" are equal
    stochastic: ClassVar[bool] = True

    @abstractmethod
    def sample(self, num: int = 1, *, size: tuple[int, int] | None = None, generator: torch.Generator | int | None = None, **options: Any) -> torch.Tensor:
        """Random samples.

        Args:
            num: number of samples (>= 1).
            size: ``(height, width)`` in px of the output (default :meth:`output_size`).
            generator: ``torch.Generator`` or integer seed; the same seed gives the same images.
            options: method-specific options (a pyramid's ``start_scale``, ``batch_size``...).

        Returns:
            ``(num, 3, H, W)`` in ``[-1, 1]``.
        """

    @abstractmethod
    def output_size(self) -> tuple[int, int]:
        """``(height, width)`` of an output at the training shape, px."""


class Translator(ABC):
    """Maps a condition image (DeepSIM's primitive) to an image of the training domain."""

    #: what the condition is called in messages and CLI help
    condition_name: ClassVar[str] = "primitive"

    @abstractmethod
    def translate(self, condition: torch.Tensor, *, generator: torch.Generator | int | None = None) -> torch.Tensor:
        """Translate ``condition`` ``(B, C, H, W)`` to images ``(B, 3, H', W')`` in ``[-1, 1]``."""


class Injectable(ABC):
    """An image can be injected at a scale and completed by the model (SinGAN sec. 4, SinIR sec. 3.3).

    Tasks (``sinkit.tasks``) are this plus pre- and post-processing.  Scale
    indices count from the coarsest (0 = the paper's ``N``).
    """

    #: official mask dilation disk radii in px at the output size, ``{"edit": r, "harmonize": r}``
    mask_dilation: ClassVar[Mapping[str, int]] = {}
    #: the method's own injection scale per task when the user gives none, e.g. ``{"transfer": -1}``
    #: (negative counts from the finest: -1 = finest); ``sinkit transfer`` then needs no ``--scale``
    default_injection_scale: ClassVar[Mapping[str, int]] = {}

    @abstractmethod
    def valid_injection_scales(self) -> range:
        """Scales at which an image can be injected."""

    @abstractmethod
    def output_size(self) -> tuple[int, int]:
        """``(height, width)`` of an output at the training shape, px."""

    @abstractmethod
    def training_image(self) -> torch.Tensor:
        """The training image at :meth:`output_size`, ``(1, 3, H, W)`` in ``[-1, 1]``."""

    @abstractmethod
    def image_at_scale(self, scale: int) -> torch.Tensor:
        """The training image as the model sees it at injection scale ``scale`` (colour statistics for paint)."""

    @abstractmethod
    def inject(
        self,
        image: torch.Tensor,
        scale: int,
        *,
        num: int = 1,
        size: tuple[int, int] | None = None,
        noise: str = "random",
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Inject ``image`` at ``scale`` and complete it.

        Args:
            image: ``(1, 3, H, W)`` in ``[-1, 1]`` (resized by the model as needed).
            scale: an index in :meth:`valid_injection_scales`.
            num: number of outputs (different noise each).
            size: output ``(height, width)`` (default :meth:`output_size`).
            noise: ``"random"`` (default) or ``"zero"`` (deterministic); methods may accept more.
            generator: random source.

        Returns:
            ``(num, 3, H', W')`` in ``[-1, 1]``.
        """


def check_sample_args(num: int, *, batch_size: int = 1, scale_h: float = 1.0, scale_v: float = 1.0, size: tuple[int, int] | None = None) -> None:
    """Check the arguments every :meth:`Sampler.sample` shares, before any work.

    Raises:
        ValueError: ``num`` or ``batch_size`` not an integer >= 1, a factor that is not a
            finite number > 0, or a ``size`` that is not two integers >= 1.
    """
    for name, value in (("num", num), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    for name, value in (("scale_h", scale_h), ("scale_v", scale_v)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    if size is not None and not (len(size) == 2 and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in size)):
        raise ValueError(f"size must be (height, width) in px, two integers >= 1, got {size!r}")


def require(model: Any, capability: type, action: str) -> None:
    """Raise a clear error unless ``model`` has ``capability``.

    Args:
        model: a trained model.
        capability: :class:`Sampler`, :class:`Translator`, :class:`Injectable`, a pyramid class...
        action: what was asked, for the message (e.g. ``"edit images (sinkit edit)"``).

    Raises:
        CapabilityError: ``"<method> models cannot <action>. <usage>"``.
    """
    if isinstance(model, capability):
        return
    method = getattr(model, "method", "") or type(model).__name__
    usage = getattr(model, "usage", "")
    raise CapabilityError(f"{method} models cannot {action}." + (f" {usage}" if usage else ""))


def check_injection_scale(model: Injectable, scale: int) -> int:
    """Return ``scale`` if ``model`` can take an image injected there.

    Raises:
        CapabilityError: the model cannot take injected images at all.
        ValueError: ``scale`` outside ``model.valid_injection_scales()`` (the message lists the range).
    """
    require(model, Injectable, "inject images (paint, edit, harmonize, transfer)")
    valid = model.valid_injection_scales()
    if not isinstance(scale, int) or scale not in valid:
        raise ValueError(
            f"injection scale {scale!r} is outside the valid range {valid.start}..{valid.stop - 1} "
            f"(0 = coarsest = paper's N; paper notation N-{valid.start}..N-{valid.stop - 1})"
        )
    return scale


def describe_capabilities(model_class: type) -> list[str]:
    """Short names of what a model class can do (for ``--help`` and ``sinkit info``)."""
    from .pyramid_model import PyramidModel

    names = []
    for cap, name in ((Sampler, "sample"), (Translator, "translate"), (Injectable, "inject (paint/edit/harmonize/transfer)"), (PyramidModel, "pyramid")):
        if issubclass(model_class, cap):
            names.append(name)
    return names
