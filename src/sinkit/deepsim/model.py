"""A trained DeepSIM: one generator that translates a primitive into an image (a translator).

DeepSIM (Vinker et al., ICCV 2021) is conditional: there is no noise and no pyramid.  The
model keeps the generator, the training pair at the working size (buffers ``real`` and
``primitive``), the training colours of segmentation primitives (``palette``, to check test
primitives) and the original size of the pair, which brings any test primitive to the
scale the generator was trained at.
"""

from __future__ import annotations

from typing import Mapping

import torch

from ..core.capabilities import Translator
from ..core.model import InputSpec, OptionSpec, SingleImageModel
from ..core.registry import register_method
from .config import PRESETS, PRIMITIVE_KINDS, VGG_MODES, DeepSIMConfig
from .networks import GlobalGenerator, init_weights
from .primitives import binarize_edges, check_not_blank, check_seg_colors, edges_primitive, resize_primitive

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
class DeepSIM(SingleImageModel, Translator):
    """DeepSIM: primitive -> image, learned from one pair with TPS augmentation (paper sec. 3).

    Train with ``DeepSIM.train({"image": ..., "primitive": ...}, "fast")`` (or
    ``sinkit train IMG --method deepsim --primitive P``), load with ``sinkit.load``, and use
    :meth:`translate` on an edited primitive.

    Attributes:
        config: the :class:`DeepSIMConfig` it was trained with.
        generator: the pix2pixHD global generator.
        real: ``(1, 3, h, w)`` training image at the working size, in [-1, 1].
        primitive: ``(1, 3, h, w)`` training primitive at the working size.
        palette: ``(K, 3)`` uint8 training colours of seg / seg_edges primitives (empty otherwise).
        original_size: ``(H, W)`` of the training pair as given.
        info: training record (iterations, losses per phase, which loss terms ran, notes).
    """

    config_class = DeepSIMConfig
    presets = PRESETS
    inputs = (
        InputSpec("image", "the training image"),
        InputSpec("primitive", "the training image's primitive: edges, segmentation, both, or any drawing (--primitive-kind)"),
    )
    options = (
        OptionSpec("--primitive-kind", "primitive_kind", "What the primitive is.", str, PRIMITIVE_KINDS),
        OptionSpec("--canny-sigma", "canny_sigma", "Canny sigma when edges are drawn over a bare seg map (seg_edges).", float),
        OptionSpec("--canny-color", "canny_color", "Edge colour: 0 black on white (official), 1 white.", int),
        OptionSpec("--vgg-loss", "vgg_loss", "VGG19 perceptual loss: auto (when the ImageNet weights are found), require, off.", str, VGG_MODES),
        OptionSpec("--tps", "tps", "Thin-plate-spline augmentation (the paper's); --no-tps for the baseline.", bool),
        OptionSpec("--cutmix", "cutmix", "Official cutmix augmentation (swap 32-96 px squares).", bool),
        OptionSpec("--canny-aug", "canny_aug", "Official Canny-sigma jitter of edge primitives (1.2-3.0).", bool),
    )
    usage = "DeepSIM models translate primitives (edges, segmentations): use `sinkit translate MODEL --primitive EDITED.png`."
    condition_name = "primitive"

    def __init__(
        self,
        config: DeepSIMConfig,
        inputs: Mapping[str, torch.Tensor],
        info: dict | None = None,
        *,
        palette: torch.Tensor | None = None,
        original_size: tuple[int, int] | None = None,
    ):
        image, primitive = inputs.get("image"), inputs.get("primitive")
        if image is not None and primitive is not None and image.shape != primitive.shape:
            raise ValueError(f"image {tuple(image.shape)} and primitive {tuple(primitive.shape)} must have the same shape")
        super().__init__(config, inputs, info)
        self.generator = GlobalGenerator(3, 3, config.ngf, config.n_downsample, config.n_blocks)
        self.register_buffer("palette", (palette if palette is not None else torch.zeros(0, 3)).to(torch.uint8).clone())
        self.original_size = tuple(int(v) for v in (original_size or self.real.shape[-2:]))

    @classmethod
    def create(cls, config: DeepSIMConfig, inputs: Mapping[str, torch.Tensor], **kwargs) -> "DeepSIM":
        """A freshly initialised model (pix2pixHD init: conv weights N(0, 0.02) from ``config.seed``)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)  # torch's default bias init, without touching the caller's RNG
            model = cls(config, inputs, **kwargs)
            init_weights(model.generator, torch.Generator().manual_seed(config.seed))
        return model

    # ------------------------------------------------------------------ sizes
    @property
    def size(self) -> tuple[int, int]:
        """``(h, w)`` the generator was trained at."""
        return tuple(self.real.shape[-2:])

    def output_size(self) -> tuple[int, int]:
        return self.size

    def size_for(self, height: int, width: int) -> tuple[int, int]:
        """Working size for a test primitive of ``height x width``.

        A primitive of the training pair's original size or of the working size is translated
        at the working size; any other size is scaled by the training factor (original ->
        working) and rounded to multiples of ``2 ** n_downsample``.
        """
        if (height, width) in (self.original_size, self.size):
            return self.size
        sy, sx = self.size[0] / self.original_size[0], self.size[1] / self.original_size[1]
        m = self.config.size_multiple
        return max(m, int(round(height * sy / m)) * m), max(m, int(round(width * sx / m)) * m)

    # ------------------------------------------------------------------ translation
    def prepare(self, primitive: torch.Tensor, *, check_colors: bool = True) -> tuple[torch.Tensor, list[str]]:
        """Bring a test primitive to the generator's scale and check it.

        Returns:
            ``(primitive at the working size, notes)``; the notes say what was changed.

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
        return primitive.to(self.real.device), notes

    @torch.no_grad()
    def translate(self, condition: torch.Tensor, *, generator: torch.Generator | int | None = None, check_colors: bool = True) -> torch.Tensor:
        """Translate a (usually edited) primitive into an image.

        Args:
            condition: the primitive, ``(B, 3, H, W)`` in ``[-1, 1]``, of the training kind.  Any
                size: it is brought to the training scale and rounded to multiples of
                ``2 ** n_downsample`` (``last_notes`` says so).
            generator: unused (DeepSIM has no noise); part of the translator interface.
            check_colors: refuse segmentation colours never seen in training (default).

        Returns:
            ``(B, 3, h, w)`` image in ``[-1, 1]`` at the working size (:meth:`size_for`).

        Raises:
            PrimitiveError: blank primitive, or unknown segmentation colours (listed).
        """
        x, self.last_notes = self.prepare(condition, check_colors=check_colors)
        was_training = self.generator.training
        self.generator.eval()
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.config.bf16):
            out = self.generator(x)
        self.generator.train(was_training)
        return out.float().clamp(-1, 1)

    def reconstruction(self) -> torch.Tensor:
        """The training primitive translated (should reproduce the training image)."""
        return self.translate(self.primitive, check_colors=False)

    # ------------------------------------------------------------------ training and persistence
    @classmethod
    def _fit(cls, inputs: dict[str, torch.Tensor], config: DeepSIMConfig, **kwargs) -> "DeepSIM":
        """See :func:`sinkit.deepsim.trainer.train` for the keyword arguments."""
        from .trainer import train

        return train(inputs["image"], inputs["primitive"], config, **kwargs)

    def structure(self) -> dict:
        return {"original_size": list(self.original_size), "palette_size": len(self.palette)}

    @classmethod
    def from_structure(cls, config, inputs, structure, info) -> "DeepSIM":
        palette = torch.zeros(int(structure["palette_size"]), 3, dtype=torch.uint8)
        return cls(config, inputs, info, palette=palette, original_size=tuple(structure["original_size"]))

    def describe(self) -> str:
        c, i = self.config, self.info
        done, total = i.get("iteration", 0), c.total_iters
        per_iter = self.train_seconds / done if done else 0.0
        lines = [
            super().describe(),
            f"primitive     {c.primitive_kind} (trained at {self.size[0]}x{self.size[1]}, given {self.original_size[0]}x{self.original_size[1]})",
            f"generator     ngf {c.ngf}, {c.n_downsample} downsamplings, {c.n_blocks} residual blocks; D: {c.num_d} x ndf {c.ndf}",
            f"iterations    {done} of {total} ({per_iter:.3f} s each)",
            f"losses        {', '.join(i.get('loss_terms', []))}   (VGG19: {i.get('vgg_loss', '?')})",
            f"augmentation  TPS {'on' if c.tps else 'off'}, flip {'on' if c.flip else 'off'}"
            + "".join(f", {n}" for n, on in (("cutmix", c.cutmix), ("canny jitter", c.canny_aug), ("crop", c.crop)) if on)
            + (f", affine {'/'.join(c.affine_aug)}" if c.affine_aug else ""),
        ]
        if len(self.palette):
            lines.append(f"colours       {len(self.palette)} training colours (test seg maps must use them)")
        for note in i.get("notes", []):
            lines.append(f"note          {note}")
        return "\n".join(lines)

    def __repr__(self) -> str:  # nn.Module's repr lists every layer; keep it short
        h, w = self.size
        return f"DeepSIM({self.config.primitive_kind}, {h}x{w}, ngf={self.config.ngf}, iterations={self.info.get('iteration', 0)})"

