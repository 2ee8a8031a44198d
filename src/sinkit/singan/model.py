"""A trained SinGAN: one :class:`Scale` per pyramid level (paper sec. 2)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from ..core.checkpoint import CheckpointError, sub_state
from ..core.config import config_from_dict
from ..core.io import load_image
from ..core.model import MultiScaleModel
from ..core.pyramid import PyramidSpec, sr_steps_for
from ..core.registry import register_method
from ..core.resize import resize
from .config import PRESETS, SinGANConfig
from .networks import Discriminator, Generator

__all__ = ["Scale", "SinGAN"]


@dataclass
class Scale:
    """Everything that belongs to one pyramid level.

    Attributes:
        generator: G_n (eval mode once trained).
        discriminator: D_n (kept for resuming: the next scale starts from it).
        noise_amp: sigma_n, standard deviation of the noise at this scale.
        size: ``(height, width)`` of the training image at this scale, px.
        z_rec: fixed reconstruction noise: z* ``(1, 1, h, w)`` at the coarsest
            scale, ``None`` (zeros) elsewhere (paper eq. 5).
    """

    generator: Generator
    discriminator: Discriminator
    noise_amp: float
    size: tuple[int, int]
    z_rec: torch.Tensor | None = None

    @property
    def channels(self) -> int:
        return self.generator.head[0].out_channels

    def generate(self, x_up: torch.Tensor, z: torch.Tensor, *, noise_padding: bool = False) -> torch.Tensor:
        """``G_n(z, x_up) = x_up + psi_n(sigma_n * z + x_up)`` with the official zero padding.

        Args:
            x_up: ``(B, 3, h, w)`` previous-scale output, upsampled.
            z: ``(B, 1 or 3, h, w)`` standard-normal noise, or ``(B, 1 or 3, h + 2p, w + 2p)``
                when ``noise_padding`` (official animation models draw noise at padded size).

        Returns:
            ``(B, 3, h, w)``.
        """
        pad = self.generator_padding
        z = z.expand(x_up.shape[0], 3, -1, -1) if z.shape[1] == 1 else z
        if noise_padding:
            z_in = self.noise_amp * z + F.pad(x_up, (pad,) * 4)
        else:
            z_in = F.pad(self.noise_amp * z + x_up, (pad,) * 4)
        return self.generator(z_in, x_up)

    @property
    def generator_padding(self) -> int:
        conv = self.generator.head[0]
        return (conv.kernel_size[0] // 2) * (len(self.generator.body) + 2)


@register_method("singan")
class SinGAN(MultiScaleModel):
    """SinGAN (Shaham, Dekel, Michaeli, ICCV 2019): a pyramid of patch GANs learned from one image.

    Train with :meth:`train`, draw samples with :meth:`sample`, save with
    :meth:`save`, load with :func:`sinkit.load`.  Scale index 0 is the
    coarsest (paper's ``N``).

    Example:
        >>> model = sinkit.SinGAN.train("photo.jpg", sinkit.SinGAN.presets["fast"])  # doctest: +SKIP
        >>> samples = model.sample(4, generator=0)                                   # doctest: +SKIP
    """

    config_class = SinGANConfig
    presets = PRESETS

    def __init__(self, config: SinGANConfig, spec: PyramidSpec, real: torch.Tensor, scales: list[Scale] | None = None, info: dict | None = None):
        super().__init__(config, spec, real, info)
        self.scales: list[Scale] = list(scales or [])

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
        self._check_injection_scale(index)
        sizes = self.sizes if sizes is None else sizes
        return resize(resize(image, sizes[index - 1]), sizes[index])

    def reconstruction_noise(self, index: int) -> torch.Tensor:
        """z* at the coarsest scale, zeros elsewhere (paper eq. 5), as :meth:`noise_like` shapes it."""
        z = self.scales[index].z_rec
        return z if z is not None else torch.zeros_like(self.noise_like(index, 1, self.sizes[index]))

    # ------------------------------------------------------------------ training
    @classmethod
    def train(
        cls,
        image: str | Path | torch.Tensor,
        config: SinGANConfig | str | None = None,
        **kwargs,
    ) -> "SinGAN":
        """Train on one image.  See :func:`sinkit.singan.trainer.train` for every argument.

        Args:
            image: path or ``(1, 3, H, W)`` tensor in ``[-1, 1]``.
            config: a :class:`SinGANConfig`, a preset name (``"paper"``, ``"fast"``)
                or None for the paper defaults.
        """
        from .trainer import train

        if isinstance(config, str):
            if config not in PRESETS:
                raise ValueError(f"unknown preset {config!r}; available: {', '.join(PRESETS)}")
            config = PRESETS[config]
        if not torch.is_tensor(image):
            image = load_image(image)
        return train(image, config or SinGANConfig(), **kwargs)

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
        if isinstance(base_config, str):
            if base_config not in PRESETS:
                raise ValueError(f"unknown preset {base_config!r}; available: {', '.join(PRESETS)}")
            base_config = PRESETS[base_config]
        _, r = sr_steps_for(factor)
        return replace(base_config, alpha=100.0, min_size=18, scale_factor=1 / r, sr_factor=float(factor))

    # ------------------------------------------------------------------ one scale
    def _autocast(self):
        if self.config.bf16:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def noise_like(self, index, batch, size, generator=None):
        """Standard-normal noise for scale ``index``: 1 channel at the coarsest scale
        (expanded to RGB, official), 3 elsewhere; padded size with ``noise_padding``."""
        pad = self.scales[index].generator_padding if self.config.noise_padding else 0
        channels = 1 if index == 0 else 3
        z = torch.randn(batch, channels, size[0] + 2 * pad, size[1] + 2 * pad, generator=generator)
        return z.to(self.device)

    def forward_scale(self, index, x_up, *, noise="random", generator=None):
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
            raise ValueError(f"noise must be a tensor or one of random/reconstruction/zero, got {noise!r}")
        with self._autocast():
            out = scale.generate(x_up, z, noise_padding=self.config.noise_padding)
        return out.float()

    # ------------------------------------------------------------------ persistence
    def state_tensors(self) -> dict[str, torch.Tensor]:
        tensors = {"real": self.real}
        for i, scale in enumerate(self.scales):
            for part in ("generator", "discriminator"):
                for key, value in getattr(scale, part).state_dict().items():
                    tensors[f"scales.{i}.{part}.{key}"] = value
            if scale.z_rec is not None:
                tensors[f"scales.{i}.z_rec"] = scale.z_rec
        return tensors

    def metadata(self) -> dict:
        meta = super().metadata()
        meta["scales"] = [
            {"size": list(s.size), "noise_amp": s.noise_amp, "channels": s.channels} for s in self.scales
        ]
        return meta

    @classmethod
    def from_state(cls, tensors, meta) -> "SinGAN":
        try:
            config = config_from_dict(SinGANConfig, meta["config"])
            spec = PyramidSpec.from_dict(meta["pyramid"])
            real = tensors["real"]
            scales = []
            for i, s in enumerate(meta["scales"]):
                g = Generator(s["channels"], config.num_layers, config.kernel_size)
                d = Discriminator(s["channels"], config.num_layers, config.kernel_size)
                for part, net in (("generator", g), ("discriminator", d)):
                    net.load_state_dict(sub_state(tensors, f"scales.{i}.{part}."))
                g.eval()
                d.eval()
                scales.append(Scale(g, d, float(s["noise_amp"]), tuple(s["size"]), tensors.get(f"scales.{i}.z_rec")))
        except (KeyError, RuntimeError, ValueError, TypeError) as err:
            raise CheckpointError(f"SinGAN checkpoint does not match its metadata: {err}") from err
        if len(scales) > spec.num_scales:
            raise CheckpointError(f"checkpoint has {len(scales)} scales but its pyramid only {spec.num_scales}")
        return cls(config, spec, real, scales, meta.get("info"))

    def to(self, device) -> "SinGAN":
        device = torch.device(device)
        self.real = self.real.to(device)
        for s in self.scales:
            s.generator.to(device)
            s.discriminator.to(device)
            if s.z_rec is not None:
                s.z_rec = s.z_rec.to(device)
        self._pyramid = None
        return self

    def describe(self) -> str:
        lines = [super().describe(), f"trained       {self.num_scales} of {self.spec.num_scales} scales", ""]
        lines.append("index  paper  size (HxW)  channels  noise_amp  train_s")
        secs = self.info.get("train_seconds", [])
        for i, s in enumerate(self.scales):
            t = f"{secs[i]:.1f}" if i < len(secs) else "-"
            lines.append(f"{i:5d}  {'N' if i == 0 else f'N-{i}':>5}  {s.size[0]:4d}x{s.size[1]:<4d}   {s.channels:8d}  {s.noise_amp:9.4f}  {t:>7}")
        return "\n".join(lines)
