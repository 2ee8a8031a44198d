"""The base of the training-free patch methods (GPNN, GPDM, patch diffusion): the image IS the model.

"Training" only resizes the image to the config's ``max_size`` and stores it
with the frozen config, so such a model saves and loads like any other
(``config.json`` + ``model.safetensors`` holding the image) and every command
that takes a model directory also takes the image itself with ``--method``
(:attr:`~sinkit.core.model.SingleImageModel.training_free`).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import torch

from ..config import check_config, replace_config
from ..device import resolve_device
from ..model import SingleImageModel
from ..pyramid import PyramidSpec, build_pyramid, scaled_sizes
from ..resize import resize
from .ops import check_patch_fits
from .pyramid import fit_max_size

__all__ = ["ImagePatchModel"]


class ImagePatchModel(SingleImageModel):
    """A model that is its image plus a frozen config (no weights).

    Subclasses keep the config fields ``max_size`` (long side of the stored image,
    px; None keeps the image's size) and ``patch_size``, set :attr:`spec` (their
    coarse-to-fine levels) in ``__init__`` and implement their capabilities on
    :attr:`real`, the stored ``(1, 3, H, W)`` image in ``[-1, 1]``, and :attr:`pyramid`.
    """

    training_free = True
    spec: PyramidSpec

    def __init__(self, config: Any, inputs, info: dict | None = None):
        super().__init__(config, inputs, info)
        self._pyramid: list[torch.Tensor] | None = None

    # ----------------------------------------------------------------- levels
    @property
    def sizes(self) -> tuple[tuple[int, int], ...]:
        """``(height, width)`` of every level, coarsest first."""
        return self.spec.sizes

    @property
    def num_scales(self) -> int:
        return self.spec.num_scales

    def build_pyramid(self) -> list[torch.Tensor]:
        """The image at every level (default: each level resized from the image, as SinGAN / GPNN)."""
        return build_pyramid(self.real.float(), self.spec)

    def pyramid_changed(self) -> None:
        """Called when :attr:`pyramid` is rebuilt (another device): drop caches built on it."""

    @property
    def pyramid(self) -> list[torch.Tensor]:
        """The image at every level, coarsest first (built once per device, :meth:`build_pyramid`)."""
        if self._pyramid is None or self._pyramid[0].device != self.real.device:
            self._pyramid = self.build_pyramid()
            self.pyramid_changed()
        return self._pyramid

    def level_sizes(self, size: tuple[int, int] | None = None, *, first: int = 0) -> list[tuple[int, int]]:
        """Every level's size for an output of ``size = (height, width)`` (default: the image's).

        Each level is scaled by the same width and height factors (retargeting);
        the finest is exactly ``size``.  ``first``: the coarsest level that will be used (an
        injection level); only it and the finer ones must hold a patch.

        Raises:
            ValueError: a non-positive size, or level ``first`` smaller than one patch.
        """
        if size is None:
            return list(self.sizes)
        h, w = int(size[0]), int(size[1])
        if h < 1 or w < 1:
            raise ValueError(f"output size must be positive, got {h}x{w}")
        H, W = self.output_size()
        sizes = scaled_sizes(self.sizes, w / W, h / H)
        sizes[-1] = (h, w)
        what = "coarsest level" if first == 0 else f"level {first}"
        check_patch_fits(sizes[first], self.config.patch_size, f"{what} of a {h}x{w} output")
        return sizes

    def valid_injection_scales(self) -> range:
        """Every level: an image injected at the coarsest replaces the initial guess."""
        return range(0, self.num_scales)

    def image_at_scale(self, scale: int) -> torch.Tensor:
        return self.pyramid[scale]

    @classmethod
    def _fit(cls, inputs: dict[str, torch.Tensor], config: Any, *, out_dir=None, resume: bool = False, device="auto", progress: bool = True, **_ignored):
        """Build the model: the image shrunk to ``config.max_size`` (never enlarged), saved to ``out_dir`` if given."""
        start = time.perf_counter()
        image = inputs["image"]
        if image.dim() != 4 or image.shape[:2] != (1, 3):
            raise ValueError(f"image: expected a (1, 3, H, W) tensor in [-1, 1], got shape {tuple(image.shape)}")
        size = fit_max_size(*image.shape[-2:], getattr(config, "max_size", None))
        stored = {**inputs, "image": resize(image.float(), size)}
        model = cls(config, stored, info={"complete": True, "training_free": True})
        model.info["train_seconds"] = time.perf_counter() - start
        model = model.to(resolve_device(device)).eval()
        if out_dir is not None:
            model.save(out_dir)
        return model

    @property
    def sampling_fields(self) -> tuple[str, ...]:
        """Every config field but ``max_size`` (which sized the stored image): nothing here was trained."""
        return tuple(f.name for f in dataclasses.fields(self.config) if f.name != "max_size")

    def set_sampling_options(self, **options: Any) -> "ImagePatchModel":
        """A new model of the stored image with ``options`` in its config (the levels depend on the
        config, so they are built again); ``self`` is unchanged.

        Raises:
            ValueError: ``max_size``, an unknown field or a value the config rejects.
        """
        config = check_config(replace_config(self.config, **options))
        if "max_size" in options:
            raise ValueError("max_size cannot change after the image was stored; build the model from the image again")
        return type(self)(config, self.training_inputs, self.info).to(self.device).eval()

    def output_size(self) -> tuple[int, int]:
        """``(height, width)`` of the stored image, px."""
        return tuple(int(s) for s in self.real.shape[-2:])

    def describe(self) -> str:
        return super().describe() + "\nmodel         training-free: the image plus its config (no weights)"
