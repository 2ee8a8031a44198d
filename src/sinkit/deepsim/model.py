"""A trained DeepSIM: one generator that translates a primitive into an image (a translator).

DeepSIM (Vinker et al., ICCV 2021) is conditional: there is no noise and no pyramid.  The
model keeps the generator, the training pair at the working size (``image``, ``primitive``),
the training colours of segmentation primitives (``palette``, to check test primitives) and
the sizes needed to bring any test primitive to the scale the generator was trained at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from ..core.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ..core.config import config_from_dict, config_to_dict
from ..core.registry import register_method
from .config import PRESETS, DeepSIMConfig
from .networks import GlobalGenerator
from .primitives import (
    binarize_edges,
    check_not_blank,
    check_seg_colors,
    edges_primitive,
    resize_primitive,
)

__all__ = ["DeepSIM", "working_size", "METHOD"]

METHOD = "deepsim"


def working_size(height: int, width: int, config: DeepSIMConfig) -> tuple[int, int]:
    """The size the pair is trained at.

    Official ``adjust_input_size``: halve when the long side exceeds 1000 px (repeated here
    while it does, for inputs above 2000 px), then round each side to the nearest multiple
    of ``2 ** n_downsample``.  With ``max_size`` the long side is first brought down to it
    (never up).
    """
    h, w = float(height), float(width)
    if config.max_size is None:
        while max(h, w) > 1000:
            h, w = h // 2, w // 2
    else:
        s = min(1.0, config.max_size / max(h, w))
        h, w = h * s, w * s
    m = config.size_multiple
    return max(m, int(round(h / m)) * m), max(m, int(round(w / m)) * m)


@register_method(METHOD)
class DeepSIM(nn.Module):
    """DeepSIM: primitive -> image, learned from one pair with TPS augmentation (paper sec. 3).

    Build one with :func:`sinkit.deepsim.train` (or ``sinkit train IMG --method deepsim
    --primitive P``); load one with :meth:`load`.  Use :meth:`translate` on an edited primitive.

    Attributes:
        config: the :class:`DeepSIMConfig` it was trained with.
        generator: the pix2pixHD global generator.
        image: ``(1, 3, h, w)`` training image at the working size, in [-1, 1].
        primitive: ``(1, 3, h, w)`` training primitive at the working size.
        palette: ``(K, 3)`` uint8 training colours of seg / seg_edges primitives (empty otherwise).
        original_size: ``(H, W)`` of the training pair as given.
        info: training record (iterations done, losses that ran, timings, notes).
    """

    method = METHOD
    config_class = DeepSIMConfig
    presets = PRESETS
    usage = "translates an edited primitive into an image: sinkit translate MODEL --primitive EDITED.png"

    def __init__(
        self,
        config: DeepSIMConfig,
        image: torch.Tensor,
        primitive: torch.Tensor,
        palette: torch.Tensor | None = None,
        original_size: tuple[int, int] | None = None,
        info: dict[str, Any] | None = None,
        generator_seed: int | None = None,
    ):
        super().__init__()
        if image.shape != primitive.shape:
            raise ValueError(f"image {tuple(image.shape)} and primitive {tuple(primitive.shape)} must have the same shape")
        self.config = config
        self.generator = GlobalGenerator(3, 3, config.ngf, config.n_downsample, config.n_blocks)
        if generator_seed is not None:
            from .networks import init_weights

            init_weights(self.generator, torch.Generator().manual_seed(generator_seed))
        self.register_buffer("image", image.detach().clone())
        self.register_buffer("primitive", primitive.detach().clone())
        self.register_buffer("palette", (palette if palette is not None else torch.zeros(0, 3)).to(torch.uint8).clone())
        self.original_size = tuple(original_size or image.shape[-2:])
        self.info: dict[str, Any] = dict(info or {})

    # ------------------------------------------------------------------ sizes
    @property
    def size(self) -> tuple[int, int]:
        """``(h, w)`` the generator was trained at."""
        return tuple(self.image.shape[-2:])

    def size_for(self, height: int, width: int) -> tuple[int, int]:
        """Working size for a test primitive of ``height x width``: the training scale, rounded."""
        if (height, width) == self.original_size:
            return self.size
        sy, sx = self.size[0] / self.original_size[0], self.size[1] / self.original_size[1]
        m = self.config.size_multiple
        return max(m, int(round(height * sy / m)) * m), max(m, int(round(width * sx / m)) * m)

    # ------------------------------------------------------------------ translation
    def prepare(self, primitive: torch.Tensor, *, check_colors: bool = True) -> tuple[torch.Tensor, list[str]]:
        """Bring a test primitive to the generator's scale and check it.

        Returns:
            ``(primitive at the working size, notes)``; notes say what was changed.

        Raises:
            PrimitiveError: blank primitive, or segmentation colours not seen in training.
            ValueError: not a ``(B, 3, H, W)`` tensor.
        """
        check_not_blank(primitive)
        kind, cc = self.config.primitive_kind, self.config.canny_color
        notes = []
        h, w = primitive.shape[-2:]
        size = self.size_for(h, w)
        if kind == "edges":
            primitive = edges_primitive(binarize_edges(primitive, cc), cc)
        if (h, w) != size:
            primitive = resize_primitive(primitive, kind, size, cc)
            notes.append(f"primitive resized from {h}x{w} to {size[0]}x{size[1]} (the scale the model was trained at)")
        if check_colors and kind in ("seg", "seg_edges"):
            check_seg_colors(primitive, self.palette.cpu(), kind, cc)
        return primitive.to(self.image.device), notes

    @torch.no_grad()
    def translate(self, primitive: torch.Tensor, *, generator: torch.Generator | None = None, check_colors: bool = True) -> torch.Tensor:
        """Translate a (usually edited) primitive into an image.

        Args:
            primitive: ``(B, 3, H, W)`` in ``[-1, 1]``, the same kind as in training.  Any size:
                it is brought to the training scale and rounded to multiples of ``2 ** n_downsample``.
            generator: unused (DeepSIM is deterministic); accepted for the translator interface.
            check_colors: refuse segmentation colours never seen in training (default).

        Returns:
            ``(B, 3, h, w)`` image in ``[-1, 1]`` at the working size (see :meth:`size_for`).

        Raises:
            PrimitiveError: blank primitive or unknown segmentation colours (the message lists them).
        """
        x, notes = self.prepare(primitive, check_colors=check_colors)
        self.last_notes = notes
        self.generator.eval()
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.config.bf16):
            out = self.generator(x)
        return out.float().clamp(-1, 1)

    def reconstruction(self) -> torch.Tensor:
        """The training primitive translated (should reproduce the training image)."""
        return self.translate(self.primitive, check_colors=False)

    # ------------------------------------------------------------------ checkpoints
    def metadata(self) -> dict[str, Any]:
        from .. import __version__ as version

        return {
            "method": METHOD,
            "sinkit_version": version,
            "config": config_to_dict(self.config),
            "structure": {"original_size": list(self.original_size), "size": list(self.size), "palette": len(self.palette)},
            "info": self.info,
        }

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.state_dict().items()}

    def save(self, directory: str | Path) -> Path:
        """Write ``model.safetensors`` + ``config.json`` to ``directory`` (atomic; no pickle)."""
        return save_checkpoint(directory, self.state_tensors(), self.metadata())

    @classmethod
    def from_state(cls, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> "DeepSIM":
        """Rebuild from :meth:`state_tensors` and :meth:`metadata` output (strict)."""
        if meta.get("method") != METHOD:
            raise CheckpointError(f"not a DeepSIM checkpoint (method {meta.get('method')!r})")
        try:
            config = config_from_dict(DeepSIMConfig, meta["config"])
            structure = meta["structure"]
            model = cls(
                config,
                tensors["image"],
                tensors["primitive"],
                tensors["palette"],
                tuple(structure["original_size"]),
                meta.get("info", {}),
            )
            model.load_state_dict(tensors, strict=True)
        except (KeyError, ValueError, RuntimeError) as err:
            raise CheckpointError(f"DeepSIM checkpoint does not match its config: {err}") from err
        return model

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "cpu") -> "DeepSIM":
        """Load a model directory written by :meth:`save`.

        Raises:
            FileNotFoundError, CheckpointError: missing, corrupt, or another method's model.
        """
        tensors, meta = load_checkpoint(directory, device="cpu")
        if meta.get("method") != METHOD:
            raise CheckpointError(
                f"{directory} holds a {meta.get('method')} model, not a DeepSIM one; "
                "DeepSIM models translate primitives (sinkit translate), they do not sample"
            )
        return cls.from_state(tensors, meta).to(device)

    def __repr__(self) -> str:  # nn.Module's repr lists every layer; keep it short
        h, w = self.size
        return f"DeepSIM({self.config.primitive_kind}, {h}x{w}, ngf={self.config.ngf}, iterations={self.info.get('iterations', 0)})"
