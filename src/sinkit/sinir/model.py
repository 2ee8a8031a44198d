"""A trained SinIR: one reconstruction network per pyramid level (Yoo & Chen, ICML 2021)."""

from __future__ import annotations

import contextlib
from typing import ClassVar, Sequence

import torch
import torch.nn as nn

from ..core.capabilities import check_sample_args
from ..core.model import InputSpec, OptionSpec
from ..core.pyramid import PyramidSpec, build_pyramid_chained
from ..core.pyramid_model import PyramidModel
from ..core.registry import register_method
from ..core.resize import resize
from ..core.scales import scale_label
from .config import PRESETS, SinIRConfig, sr_config
from .networks import SinIRNet

__all__ = ["SinIR"]


@register_method("sinir")
class SinIR(PyramidModel):
    """SinIR: cascaded reconstruction networks with random pixel shuffling (paper sec. 2).

    Network ``index`` (0 = coarsest = paper's ``F_N``) maps the upsampled output
    of the coarser scale - at the coarsest scale the real coarsest image - to
    the image at its scale.  There is no noise: the same input always gives
    the same output, and every manipulation (style transfer, paint-to-image,
    editing, harmonization, super-resolution) is injection of an image at a
    start scale through the shared :meth:`run_scales` loop (``sinkit.tasks``).

    Attributes:
        networks: the trained networks, coarsest first (eval mode, frozen).

    Example:
        >>> from sinkit.sinir import SinIR
        >>> model = SinIR.train("style.png", "photo_style", out_dir="runs/style")  # doctest: +SKIP
        >>> out = model.run_scales(model.injection_input(content, 0), 0)                   # doctest: +SKIP
    """

    config_class = SinIRConfig
    presets = PRESETS
    inputs = (InputSpec("image", "the training image (resized so its long side is max_size)"),)
    options = (
        OptionSpec("--min-size", "min_size", "Short side of the coarsest scale, px.", int),
        OptionSpec("--scale-factor", "scale_factor", "Nominal ratio between scales, <= 1.", float),
    )
    usage = "SinIR models re-synthesise and inject images (paint, edit, harmonize, transfer, upscale); they have no random samples."
    #: mask dilation disk radius (px) of the official SinIR code (``loaders/loader.py``): 7 for
    #: editing, 20 for harmonization - swapped with respect to SinGAN's 20 / 7.
    mask_dilation: ClassVar[dict[str, int]] = {"edit": 7, "harmonize": 20}
    stochastic = False

    def __init__(
        self,
        config: SinIRConfig,
        inputs,
        spec: PyramidSpec,
        networks: list[SinIRNet] | None = None,
        info: dict | None = None,
    ):
        super().__init__(config, inputs, spec, info)
        self.networks = nn.ModuleList(networks or [])

    @property
    def num_scales(self) -> int:
        """Number of trained scales."""
        return len(self.networks)

    @property
    def pyramid(self) -> list[torch.Tensor]:
        """The training image at every scale, coarsest first: SinIR's chained, by default
        non-antialiased construction (:func:`~sinkit.core.pyramid.build_pyramid_chained`)."""
        if self._pyramid is None or self._pyramid[0].device != self.device:
            self._pyramid = build_pyramid_chained(self.real, self.spec, antialias=self.config.antialias)
        return self._pyramid

    # ------------------------------------------------------------------ injection
    def valid_injection_scales(self) -> range:
        """Every trained scale, 0 included: SinIR's coarsest network takes an image (the real
        coarsest image in training), not noise."""
        return range(0, self.num_scales)

    def injection_input(
        self, image: torch.Tensor, index: int, sizes: Sequence[tuple[int, int]] | None = None
    ) -> torch.Tensor:
        """``image`` as SinIR's inference feeds it to scale ``index`` (paper sec. 2.2; official ``infer``).

        The official code builds the inference image's own pyramid with the
        training resampler (resize to the finest size, then level by level down
        to the start scale) and feeds the start scale's level; here the levels
        have the model's sizes, so the result is ``image`` resized exactly as
        the training image was.

        Args:
            image: ``(B, 3, H, W)`` in ``[-1, 1]``, any size.
            index: start scale (0 = coarsest = paper's N).
            sizes: per-scale sizes for another output shape (default :attr:`sizes`;
                see :func:`~sinkit.core.pyramid.scaled_sizes`).

        Returns:
            ``(B, 3, h, w)`` with ``(h, w) = sizes[index]``.

        Raises:
            ValueError: ``index`` outside :meth:`valid_injection_scales`.
        """
        self.check_injection_scale(index)
        sizes = tuple(tuple(s) for s in (self.sizes if sizes is None else sizes))
        # only the levels from the finest down to ``index`` are needed
        spec = PyramidSpec(sizes[index:], self.spec.scale_factor)
        return build_pyramid_chained(image.to(self.device), spec, antialias=self.config.antialias)[0]

    # ------------------------------------------------------------------ one scale
    def _autocast(self):
        if self.config.bf16:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def forward_scale(self, index, x_up, *, noise="random", generator=None):
        """Apply network ``index`` to ``x_up`` (``(B, 3, h, w)`` in ``[-1, 1]``, any size).

        ``noise`` and ``generator`` are accepted for the shared interface and
        ignored: SinIR has no noise, and no corruption at inference.

        Returns:
            ``(B, 3, h, w)`` in ``(-1, 1)``.

        Raises:
            IndexError: ``index`` is not a trained scale.
        """
        if not 0 <= index < self.num_scales:
            raise IndexError(f"scale {index} is not trained (trained: 0..{self.num_scales - 1})")
        with torch.no_grad(), self._autocast():
            out = self.networks[index](x_up.to(self.device))
        return out.float()

    @torch.no_grad()
    def reconstruct(self, stop: int | None = None) -> list[torch.Tensor]:
        """Reconstruction at every scale ``< stop``: the cascade from the real coarsest image (eq. 1), no corruption."""
        stop = self.num_scales if stop is None else stop
        return self.run_scales(self.pyramid[0], 0, stop=stop, return_all=True)

    @torch.no_grad()
    def sample(
        self,
        num: int = 1,
        *,
        size: tuple[int, int] | None = None,
        start_scale: int = 0,
        scale_h: float = 1.0,
        scale_v: float = 1.0,
        generator: torch.Generator | int | None = None,
        batch_size: int = 16,
    ) -> torch.Tensor:
        """SinIR has no random generation: ``num`` copies of the training image re-synthesised from ``start_scale``.

        The training image's level ``start_scale`` (resized by ``scale_v`` /
        ``scale_h`` for other shapes) runs through the finer networks - the
        paper's Figure 3 with the training image as input.  All ``num`` outputs
        are identical (``generator`` and ``batch_size`` are accepted for the
        shared interface and ignored).  Use ``sinkit.tasks`` to manipulate
        other images.

        Returns:
            ``(num, 3, H', W')`` in ``[-1, 1]``.

        Raises:
            ValueError: ``start_scale`` outside ``0 .. num_scales - 1`` or bad factors.
        """
        check_sample_args(num, batch_size=batch_size, scale_h=scale_h, scale_v=scale_v, size=size)
        if not 0 <= start_scale < self.num_scales:
            raise ValueError(f"start_scale must be in 0..{self.num_scales - 1}, got {start_scale}")
        if size is None:
            h, w = self.output_size()
            size = (max(1, round(h * scale_v)), max(1, round(w * scale_h)))
        sizes = self.sizes_for(size)
        x = resize(self.pyramid[start_scale], sizes[start_scale], antialias=self.config.antialias)
        out = self.run_scales(x, start_scale, sizes=sizes)
        return out.expand(num, -1, -1, -1).contiguous()

    def estimate_memory(self, size, *, batch=1, outputs=1):
        """As the default, but one forward pass whatever the batch: :meth:`sample` computes the
        re-synthesis once and repeats it (measured: 580 MiB for 1 and for 4 samples of 540x800 px)."""
        return super().estimate_memory(size, batch=1, outputs=outputs)

    # ------------------------------------------------------------------ training
    @classmethod
    def _fit(cls, inputs, config: SinIRConfig, **kwargs) -> "SinIR":
        """See :func:`sinkit.sinir.trainer.train` for the keyword arguments."""
        from .trainer import train

        return train(inputs["image"], config, **kwargs)

    @classmethod
    def sr_config(cls, base_config: SinIRConfig | str, factor: float = 4.0) -> SinIRConfig:
        """Official super-resolution config for a test-time ``factor``; see :func:`sinkit.sinir.config.sr_config`."""
        from ..core.config import resolve_config

        return sr_config(resolve_config(cls, base_config), factor)

    # ------------------------------------------------------------------ persistence
    def structure(self) -> dict:
        return {
            **super().structure(),
            "scales": [{"size": list(self.sizes[i]), "channels": net.channels} for i, net in enumerate(self.networks)],
        }

    @classmethod
    def from_structure(cls, config, inputs, structure, info) -> "SinIR":
        spec = PyramidSpec.from_dict(structure["pyramid"])
        if len(structure["scales"]) > spec.num_scales:
            raise ValueError(f"{len(structure['scales'])} networks but a pyramid of only {spec.num_scales}")
        networks = [SinIRNet(int(s["channels"]), config.num_blocks).eval().requires_grad_(False) for s in structure["scales"]]
        return cls(config, inputs, spec, networks, info)

    def describe(self) -> str:
        c = self.config
        lines = [
            super().describe(),
            f"trained       {self.num_scales} of {self.spec.num_scales} scales, {c.iters} iterations each",
            f"corruption    {c.corruption} p={c.corruption_p}   channels {c.channels}   lr {c.lr}",
            "",
            "index  paper  size (HxW)  train_s  loss_last",
        ]
        secs = self.info.get("train_seconds", [])
        losses = self.info.get("losses", [])
        for i in range(self.num_scales):
            h, w = self.sizes[i]
            t = f"{secs[i]:.1f}" if i < len(secs) else "-"
            loss = f"{losses[i]['last']:.4f}" if i < len(losses) else "-"
            lines.append(f"{i:5d}  {scale_label(i):>5}  {h:4d}x{w:<4d}   {t:>7}  {loss:>9}")
        return "\n".join(lines)
