"""A trained SinGAN: one :class:`Scale` per pyramid level (paper sec. 2)."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import ClassVar

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..core.capabilities import check_sample_args
from ..core.device import native_bf16
from ..core.model import InputSpec, OptionSpec
from ..core.pyramid import PyramidSpec, scaled_sizes, sr_steps_for
from ..core.pyramid_model import NoiseInputs, PyramidModel
from ..core.registry import register_method
from ..core.resize import resize
from ..core.scales import scale_label
from .config import PRESETS, SinGANConfig
from .networks import Discriminator, Generator, build_networks

__all__ = ["Scale", "SinGAN", "NOISE_MODES", "EDIT_DILATION", "HARMONIZE_DILATION"]

#: ``"random"``: fresh Gaussian noise; ``"reconstruction"``: the fixed reconstruction
#: noise {z*, 0, ..., 0} (SinGAN eq. 5); ``"zero"``: no noise at all.
NOISE_MODES = ("random", "reconstruction", "zero")

#: official mask dilation disk radii, px at the finest scale (``functions.dilate_mask``)
EDIT_DILATION = 20
HARMONIZE_DILATION = 7


class Scale(nn.Module):
    """Everything that belongs to one pyramid level.

    Attributes:
        generator: G_n (eval mode once trained).
        discriminator: D_n (kept for resuming: the next scale starts from it).
        noise_amp: sigma_n, standard deviation of the noise at this scale.
        size: ``(height, width)`` of the training image at this scale, px.
        z_rec: fixed reconstruction noise (a buffer): z* ``(1, 1, h, w)`` at the coarsest
            scale (``(1, 1, h + 2p, w + 2p)`` with noise padding), ``None`` (zeros) elsewhere
            (paper eq. 5).
    """

    def __init__(self, generator: Generator, discriminator: Discriminator, noise_amp: float, size: tuple[int, int], z_rec: torch.Tensor | None = None):
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.noise_amp = float(noise_amp)
        self.size = tuple(size)
        self.register_buffer("z_rec", z_rec)

    @property
    def channels(self) -> int:
        return self.generator.head[0].out_channels

    def generate(
        self,
        x_up: torch.Tensor,
        z: torch.Tensor,
        *,
        noise_padding: bool = False,
        window: tuple[int, int, int, int] | None = None,
    ) -> torch.Tensor:
        """``G_n(z, x_up) = x_up + psi_n(sigma_n * z + x_up)`` with the official zero padding.

        Args:
            x_up: ``(B, 3, h, w)`` previous-scale output, upsampled.
            z: ``(B, 1 or 3, h, w)`` standard-normal noise, or ``(B, 1 or 3, h + 2p, w + 2p)``
                when ``noise_padding`` (official animation models draw noise at padded size).
            window: ``(top, left, height, width)``: compute only this part of the output.  The
                generator sees exactly the input pixels it sees on the whole image (its
                receptive field reaches ``p`` px past the window), so in eval mode the result
                equals the same crop of the whole output; in training mode batch norm takes its
                statistics from the window (crop training, ``SinGANConfig.crop_size``).

        Returns:
            ``(B, 3, h, w)``, or ``(B, 3, height, width)`` with ``window``.
        """
        pad = self.generator_padding
        z = z.expand(x_up.shape[0], 3, -1, -1) if z.shape[1] == 1 else z
        if noise_padding:
            z_in = self.noise_amp * z + F.pad(x_up, (pad,) * 4)
        else:
            z_in = F.pad(self.noise_amp * z + x_up, (pad,) * 4)
        if window is not None:
            top, left, height, width = window
            z_in = z_in[:, :, top : top + height + 2 * pad, left : left + width + 2 * pad]
            x_up = x_up[:, :, top : top + height, left : left + width]
        return self.generator(z_in, x_up)

    @property
    def generator_padding(self) -> int:
        conv = self.generator.head[0]
        return (conv.kernel_size[0] // 2) * (len(self.generator.body) + 2)


@register_method("singan")
class SinGAN(PyramidModel, NoiseInputs):
    """SinGAN (Shaham, Dekel, Michaeli, ICCV 2019): a pyramid of patch GANs learned from one image.

    Train with :meth:`train` (= :meth:`fit`), draw samples with :meth:`sample`, save with
    :meth:`save`, load with :func:`sinkit.load`.  Scale index 0 is the
    coarsest (paper's ``N``).

    Example:
        >>> model = sinkit.SinGAN.train("photo.jpg", "fast", out_dir="runs/photo")  # doctest: +SKIP
        >>> samples = model.sample(4, generator=0)                                   # doctest: +SKIP
    """

    config_class = SinGANConfig
    presets = PRESETS
    inputs = (InputSpec("image", "the training image (resized so its long side is max_size)"),)
    options = (
        OptionSpec("--min-size", "min_size", "Short side of the coarsest scale, px.", int),
        OptionSpec("--scale-factor", "scale_factor", "Nominal ratio between scales, < 1.", float),
        OptionSpec("--alpha", "alpha", "Reconstruction loss weight (paper eq. 4).", float),
        OptionSpec("--noise-padding", "noise_padding", "Draw noise at padded size (official animation models).", bool),
    )
    usage = "SinGAN models sample, inject images (paint, edit, harmonize, transfer), upscale and animate."
    mask_dilation: ClassVar[dict[str, int]] = {"edit": EDIT_DILATION, "harmonize": HARMONIZE_DILATION}

    def __init__(self, config: SinGANConfig, inputs, spec: PyramidSpec, scales: list[Scale] | None = None, info: dict | None = None):
        super().__init__(config, inputs, spec, info)
        self.scales = nn.ModuleList(scales or [])

    @property
    def num_scales(self) -> int:
        """Number of trained scales."""
        return len(self.scales)

    def valid_injection_scales(self) -> range:
        """1 .. finest: the coarsest generator takes pure noise (x_up = 0), so nothing can be injected there."""
        return range(1, self.num_scales)

    def injection_input(self, image: torch.Tensor, index: int, sizes=None) -> torch.Tensor:
        """Official construction (``paint2image.py``, ``editing.py``, ``harmonization.py``): downsample the
        image to scale ``index - 1`` and upsample it to scale ``index``, so G_index sees the same blur
        as an upsampled coarser output.  ``sizes``: per-scale sizes for another shape (default the training's)."""
        self.check_injection_scale(index)
        sizes = self.sizes if sizes is None else sizes
        return resize(resize(image, sizes[index - 1]), sizes[index])

    def reconstruction_noise(self, index: int) -> torch.Tensor:
        """z* at the coarsest scale, zeros elsewhere (paper eq. 5), as :meth:`noise_like` shapes it."""
        z = self.scales[index].z_rec
        return z if z is not None else torch.zeros(self._noise_shape(index, 1, self.sizes[index]), device=self.device)

    # ------------------------------------------------------------------ training
    @classmethod
    def _fit(cls, inputs, config: SinGANConfig, **kwargs) -> "SinGAN":
        """See :func:`sinkit.singan.trainer.train` for the keyword arguments."""
        from .trainer import train

        return train(inputs["image"], config, **kwargs)

    @classmethod
    def sr_config(cls, base_config: SinGANConfig | str, factor: float) -> SinGANConfig:
        """Config for a super-resolution model (paper sec. 4): alpha = 100, min_size 18 and the
        official SR pyramid of ratio ``1 / r``, ``r = factor ** (1/k)`` (x4: k = 6, r = 1.26).

        Args:
            base_config: a config or preset name whose other settings are kept.
            factor: the upscaling factor (> 1) that ``sinkit upscale`` will use.

        Raises:
            ValueError: factor <= 1 or unknown preset.
        """
        from ..core.config import resolve_config

        _, r = sr_steps_for(factor)
        return replace(resolve_config(cls, base_config), alpha=100.0, min_size=18, scale_factor=1 / r, sr_factor=float(factor))

    # ------------------------------------------------------------------ one scale
    def uses_bf16(self) -> bool:
        """Whether the networks run under bfloat16 autocast on the model's device (config ``bf16``;
        None = where the device computes bf16 natively)."""
        if self.config.bf16 is None:
            return native_bf16(self.device)
        return bool(self.config.bf16)

    def _autocast(self):
        if self.uses_bf16():
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def noise_like(self, index, batch, size, generator=None):
        """Standard-normal noise for scale ``index``: 1 channel at the coarsest scale
        (expanded to RGB, official), 3 elsewhere; padded size with ``noise_padding``."""
        return torch.randn(self._noise_shape(index, batch, size), generator=generator).to(self.device)

    def _noise_shape(self, index, batch, size) -> tuple[int, int, int, int]:
        pad = self.scales[index].generator_padding if self.config.noise_padding else 0
        channels = 1 if index == 0 else 3
        return (batch, channels, size[0] + 2 * pad, size[1] + 2 * pad)

    def forward_scale(self, index, x_up, *, noise="random", generator=None):
        """``G_index(z, x_up)``; ``noise`` is a mode of :data:`NOISE_MODES` or an explicit tensor."""
        scale = self.scales[index]
        b, _, h, w = x_up.shape
        if torch.is_tensor(noise):
            z = noise.to(self.device)
        elif noise == "random":
            z = self.noise_like(index, b, (h, w), generator)
        elif noise in ("reconstruction", "zero"):
            z = scale.z_rec if (noise == "reconstruction" and scale.z_rec is not None) else None
            if z is None:
                z = torch.zeros_like(self.noise_like(index, 1, (h, w)))
            elif z.shape[-2:] != self.noise_like(index, 1, (h, w)).shape[-2:]:
                raise ValueError(
                    f"reconstruction noise exists only at the training size {tuple(z.shape[-2:])}, got {h}x{w}"
                )
        else:
            raise ValueError(f"noise must be a tensor or one of {'/'.join(NOISE_MODES)}, got {noise!r}")
        with self._autocast():
            out = scale.generate(x_up, z, noise_padding=self.config.noise_padding)
        return out.float()

    @torch.no_grad()
    def reconstruct(self, stop: int | None = None) -> list[torch.Tensor]:
        """Reconstruction of the training image at every scale ``< stop``, coarsest first:
        the fixed noise {z*, 0, ..., 0} from a zero image (paper eq. 5)."""
        stop = self.num_scales if stop is None else stop
        x0 = torch.zeros(1, 3, *self.sizes[0], device=self.device)
        return self.run_scales(x0, 0, stop=stop, noise="reconstruction", return_all=True)

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
        """Draw random samples (SinGAN sec. 3, "Effect of scales at test time").

        Scales coarser than ``start_scale`` follow the reconstruction path
        (fixed noise ``z_rec``) at the training size; from ``start_scale`` on,
        fresh noise is drawn.  For other shapes every level is scaled by
        ``scale_v`` (height) and ``scale_h`` (width); when ``start_scale > 0``
        the reconstruction is resized to the new shape where random generation
        begins.

        Args:
            num: number of samples.
            size: output ``(height, width)``, px; sets ``scale_v`` / ``scale_h``
                from the finest trained size.
            start_scale: first scale with random noise (0 = coarsest = paper's N).
            scale_h, scale_v: width / height factors (official defaults 1.5 and 1
                for "arbitrary size" samples; 1 = training shape).
            generator: ``torch.Generator`` or integer seed; the same seed gives
                the same images on every device.
            batch_size: samples generated per forward pass.

        Returns:
            ``(num, 3, H', W')`` in ``[-1, 1]``.

        Raises:
            ValueError: ``start_scale`` outside ``0 .. num_scales - 1``, bad counts or factors
                (:func:`~sinkit.core.capabilities.check_sample_args`).
        """
        check_sample_args(num, batch_size=batch_size, scale_h=scale_h, scale_v=scale_v, size=size)
        if not 0 <= start_scale < self.num_scales:
            raise ValueError(f"start_scale must be in 0..{self.num_scales - 1}, got {start_scale}")
        if isinstance(generator, int):
            generator = torch.Generator().manual_seed(generator)
        if size is not None:
            h, w = self.output_size()
            scale_v, scale_h = size[0] / h, size[1] / w
        sizes = scaled_sizes(self.sizes, scale_h, scale_v)
        if start_scale > 0:
            x_up = resize(self.reconstruct(stop=start_scale)[-1], sizes[start_scale])
        else:
            x_up = torch.zeros(1, 3, *sizes[0], device=self.device)
        out = []
        for first in range(0, num, batch_size):
            b = min(batch_size, num - first)
            out.append(
                self.run_scales(x_up.expand(b, -1, -1, -1), start_scale, sizes=sizes, noise="random", generator=generator)
            )
        return torch.cat(out)

    # ------------------------------------------------------------------ persistence
    def structure(self) -> dict:
        return {
            **super().structure(),
            "scales": [{"size": list(s.size), "noise_amp": s.noise_amp, "channels": s.channels} for s in self.scales],
        }

    @classmethod
    def from_structure(cls, config, inputs, structure, info) -> "SinGAN":
        spec = PyramidSpec.from_dict(structure["pyramid"])
        if len(structure["scales"]) > spec.num_scales:
            raise ValueError(f"{len(structure['scales'])} scales but a pyramid of only {spec.num_scales}")
        scales = []
        for i, s in enumerate(structure["scales"]):
            g, d = build_networks(s["channels"], config, i, tuple(s["size"]))
            scale = Scale(g, d, float(s["noise_amp"]), tuple(s["size"]))
            if i == 0:  # z* lives at the coarsest scale (paper eq. 5)
                pad = scale.generator_padding if config.noise_padding else 0
                scale.z_rec = torch.zeros(1, 1, scale.size[0] + 2 * pad, scale.size[1] + 2 * pad)
            scales.append(scale)
        return cls(config, inputs, spec, scales, info)

    def describe(self) -> str:
        lines = [super().describe(), ""]
        lines.append("index  paper  size (HxW)  channels  noise_amp  train_s")
        secs = self.info.get("train_seconds", [])
        for i, s in enumerate(self.scales):
            t = f"{secs[i]:.1f}" if i < len(secs) else "-"
            lines.append(f"{i:5d}  {scale_label(i):>5}  {s.size[0]:4d}x{s.size[1]:<4d}   {s.channels:8d}  {s.noise_amp:9.4f}  {t:>7}")
        return "\n".join(lines)
