"""The base of the training-free patch methods (GPNN, GPDM, patch diffusion): the image IS the model.

"Training" only resizes the image to the config's ``max_size`` and stores it
with the frozen config, so such a model saves and loads like any other
(``config.json`` + ``model.safetensors`` holding the image) and every command
that takes a model directory also takes the image itself with ``--method``
(:attr:`~sinkit.core.model.SingleImageModel.training_free`).
"""

from __future__ import annotations

import time
from typing import Any

import torch

from ..device import resolve_device
from ..model import SingleImageModel
from ..resize import resize
from .pyramid import fit_max_size

__all__ = ["ImagePatchModel"]


class ImagePatchModel(SingleImageModel):
    """A model that is its image plus a frozen config (no weights).

    Subclasses keep the config field ``max_size`` (long side of the stored image,
    px; None keeps the image's size) and implement their capabilities on
    :attr:`real`, the stored ``(1, 3, H, W)`` image in ``[-1, 1]``.
    """

    training_free = True

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

    def output_size(self) -> tuple[int, int]:
        """``(height, width)`` of the stored image, px."""
        return tuple(int(s) for s in self.real.shape[-2:])

    def describe(self) -> str:
        return super().describe() + "\nmodel         training-free: the image plus its config (no weights)"
