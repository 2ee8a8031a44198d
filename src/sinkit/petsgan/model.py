"""The trained PetsGAN: DEPNet (EMA weights) -> patch transfer -> IR network.

Sampling (paper fig. 1, official ``sample``): ``z ~ N(0, 1)`` at the LR size,
``c = G_ema(z)``, ``c' = PT(c)`` (``pt_iters`` rounds at temperature
``pt_tau``), ``x = IR(c')``.  Any output size: the noise is drawn at
``size / factor`` and the positional encoding is extended consistently
(:func:`sinkit.petsgan.networks.positional_encoding`).
"""

from __future__ import annotations

import torch

from ..core.capabilities import Injectable, Sampler
from ..core.model import OptionSpec, SingleImageModel
from ..core.registry import get_method, register_method
from ..core.resize import resize
from .config import PRESETS, PRIOR_KINDS, PetsGANConfig
from .networks import DEPNet, IRNet, PatchTransfer

__all__ = ["PetsGAN"]


def _as_generator(generator: torch.Generator | int | None) -> torch.Generator | None:
    if isinstance(generator, int):
        return torch.Generator().manual_seed(generator)
    return generator


@register_method("petsgan")
class PetsGAN(SingleImageModel, Sampler, Injectable):
    """DEPNet + DIPNet, ready to sample (paper fig. 1).

    Training inputs: ``image``, stored as the buffer ``real``: the HR image
    (:func:`sinkit.petsgan.data.prepare_images`).  Other buffers: ``lr``
    ``(1, 3, H/f, W/f)`` and ``fixed_noise`` ``(1, 1, H/f, W/f)`` (DEPNet's
    reconstruction noise).  Modules: ``depnet`` (the EMA weights), ``pt``, ``ir``.

    Args:
        config: hyperparameters.
        inputs: ``{"image": HR (1, 3, H, W)}`` with ``H, W`` multiples of ``config.factor``.
    """

    config_class = PetsGANConfig
    presets = PRESETS
    options = (
        OptionSpec("--prior-images", "prior_images", "Folder of images for DEPNet's external prior.", str),
        OptionSpec("--prior", "prior", "External prior set of DEPNet.", str, PRIOR_KINDS),
    )
    #: the HR refinement runs only when sampling: ``sinkit sample --set hr_refine=0`` (or 9, today's
    #: ``fast``, on a model trained before) changes it on a trained model
    sampling_fields = ("hr_refine", "hr_refine_iters")
    #: PetsGAN publishes no mask handling for its fig. 7 tasks; SinIR's official radii (edit 7, harmonize 20 px)
    mask_dilation = {"edit": 7, "harmonize": 20}
    usage = ("PetsGAN models draw random samples (`sinkit sample`) and run paint / edit / harmonize / transfer "
             "through DIPNet (one scale: 0).")

    def __init__(self, config: PetsGANConfig, inputs, info: dict | None = None):
        super().__init__(config, inputs, info)
        hr = self.real
        f = config.factor
        if hr.shape[-2] % f or hr.shape[-1] % f:
            raise ValueError(f"PetsGAN's HR image must have sides that are multiples of {f}, got {tuple(hr.shape[-2:])}")
        h, w = hr.shape[-2] // f, hr.shape[-1] // f
        self.depnet = DEPNet(config.dep_channels, config.pos_channels, (h, w), config.pe_extension)
        self.pt = PatchTransfer(config.patch_size)
        self.ir = IRNet(config.ir_channels, f.bit_length() - 1, norm=config.ir_norm == "in")
        self.register_buffer("lr", resize(hr, (h, w)))
        self.register_buffer("fixed_noise", torch.zeros(1, 1, h, w))
        if config.hr_scale > 1:  # the x4 extension: a second IR network and its target (filled by training)
            s = config.hr_scale
            self.ir_hr = IRNet(config.hr_channels, s.bit_length() - 1, norm=False)
            self.register_buffer("real_hr", torch.zeros(1, 3, hr.shape[-2] * s, hr.shape[-1] * s))
        self._refiners: dict = {}  # hr_refine's GPNN models of the HR image, per (device, iterations); not saved

    @property
    def hr(self) -> torch.Tensor:
        """The HR training image ``(1, 3, H, W)`` (the ``real`` buffer)."""
        return self.real

    @classmethod
    def _fit(cls, inputs, config, **kwargs) -> "PetsGAN":
        from .training import fit

        return fit(cls, inputs, config, **kwargs)

    def run_facts(self) -> dict[str, str]:
        """The prior set DEPNet was trained on (``biggan`` / ``folder`` / ``augment``) and the patch
        conv's init (``vgg19`` / ``random``): what the config's ``auto`` values became; with
        ``ir_guard``, how often the DIPNet phase was rolled back."""
        facts = {"prior": str((self.info.get("prior") or {}).get("kind", "?")), "pt_init": str(self.info.get("pt_init", "?"))}
        if self.config.ir_guard:
            facts["ir_rollbacks"] = str(len(self.info.get("ir_rollbacks", [])))
        return facts

    def training_problems(self) -> list[str]:
        """``["diverged: ..."]`` when the finished model's IR network is saturated
        (:func:`sinkit.petsgan.training.ir_saturated`), else ``[]``."""
        from .training import ir_saturated

        if self.complete and ir_saturated(self):
            return ["diverged: the IR network's output is saturated (tanh at +-1), every sample is a flat colour; "
                    "train again with another seed"]
        return []

    def describe(self) -> str:
        lines = [super().describe()]
        prior = self.info.get("prior")
        if prior:
            lines.append(f"prior         {prior.get('kind')}: {prior.get('description')}")
        lines.append(f"patch conv    {self.info.get('pt_init', '?')} init")
        for rb in self.info.get("ir_rollbacks", []):
            lines.append(f"IR rollback   DIPNet iteration {rb['at']} -> {rb['back_to']} (IR network died), lr x{rb['lr_scale']:g}")
        lines.append(f"LR            {self.lr.shape[-2]}x{self.lr.shape[-1]} (x{self.config.factor})")
        if self.config.hr_refine:
            lines.append(f"HR refinement samples refined through the {self.config.hr_refine} finest GPNN levels "
                         f"({self.config.hr_refine_iters} iterations each)")
        return "\n".join(lines)

    # ------------------------------------------------------------------ pieces
    @property
    def reference(self) -> torch.Tensor:
        """The patch-transfer reference: LR and its mirror side by side (official ``ref_image``), or the
        LR image alone (``pt_mirror=False``)."""
        return torch.cat([self.lr, self.lr.flip(-1)], dim=-1) if self.config.pt_mirror else self.lr

    def transfer(self, lr: torch.Tensor, *, iterations: int | None = None) -> torch.Tensor:
        """Patch transfer of an LR image at the sampling temperature, ``(B, 3, h, w)`` -> same."""
        c = self.config
        out, _ = self.pt(lr, self.reference, tau=c.pt_tau, iterations=c.pt_iters if iterations is None else iterations,
                         hard=c.pt_hard, paste=c.pt_paste)
        return out

    def dipnet(self, lr: torch.Tensor, *, transfer: bool = True) -> torch.Tensor:
        """DIPNet F: ``(B, 3, h, w)`` LR in ``[-1, 1]`` -> ``(B, 3, h f, w f)`` HR (PT then IR), then the
        x``hr_scale`` extension when the model has one."""
        out = self.ir(self.transfer(lr) if transfer else lr)
        return self.ir_hr(out) if self.config.hr_scale > 1 else out

    def refiner(self):
        """The GPNN model of the HR training image that ``hr_refine`` uses (built once per device; no weights).

        Reached through the method registry: method packages import only ``sinkit.core``
        (tests/test_layering.py), so PetsGAN uses the registered GPNN as any caller would.
        """
        key = (str(self.real.device), self.config.hr_refine_iters)
        if key not in self._refiners:
            gpnn = get_method("gpnn")
            config = gpnn.config_class(max_size=None, iters=self.config.hr_refine_iters)
            self._refiners[key] = gpnn(config, {"image": self.training_image()}).eval()
        return self._refiners[key]

    @torch.no_grad()
    def refine(self, x: torch.Tensor) -> torch.Tensor:
        """``hr_refine`` (ours): samples ``(B, 3, H, W)`` in ``[-1, 1]`` refined with the HR image's own patches.

        Each sample is injected into a GPNN pyramid of the HR image (retargeted to ``(H, W)``) at the
        ``config.hr_refine``-th finest level and refined through the finer ones with GPNN's
        completeness-normalised patch nearest neighbours (Granot et al., CVPR 2022, eq. 2;
        :meth:`sinkit.gpnn.GPNN.inject`).  In a small sample the levels smaller than a patch are
        skipped (at least the finest is refined).  ``hr_refine = 0`` returns ``x`` unchanged.
        """
        n = self.config.hr_refine
        if n == 0:
            return x
        gpnn = self.refiner()
        size = tuple(x.shape[-2:])
        sizes = gpnn.level_sizes(size, first=gpnn.num_scales - 1)
        fits = [i for i, s in enumerate(sizes) if min(s) >= gpnn.config.patch_size]
        level = max(gpnn.num_scales - n, fits[0])
        return torch.cat([gpnn.inject(s[None], level, size=size, alpha=gpnn.config.alpha) for s in x])

    # ------------------------------------------------------------------ Sampler
    def output_size(self) -> tuple[int, int]:
        s = self.config.hr_scale
        return int(self.real.shape[-2]) * s, int(self.real.shape[-1]) * s

    def training_image(self) -> torch.Tensor:
        """The image at :meth:`output_size` (the 256 px HR image, or the x4 target with the extension)."""
        return self.real_hr if self.config.hr_scale > 1 else self.real

    def lr_size_for(self, size: tuple[int, int] | None) -> tuple[int, int]:
        """LR size of an output of ``size``: each side rounded to the nearest multiple of ``factor``.

        Raises:
            ValueError: a side below ``3 * factor`` px (the IR network's 5x5 replicate padding needs 3 LR pixels).
        """
        f = self.config.factor * self.config.hr_scale
        if size is None:
            return int(self.lr.shape[-2]), int(self.lr.shape[-1])
        h, w = int(size[0]), int(size[1])
        if h < 3 * f or w < 3 * f:  # 2 LR pixels passed this check until 2026-12-07 and failed inside the IR network
            raise ValueError(f"PetsGAN samples need sides of at least {3 * f} px, got {(h, w)}")
        return round(h / f), round(w / f)

    @torch.no_grad()
    def sample_lr(self, num: int, *, size: tuple[int, int] | None = None,
                  generator: torch.Generator | int | None = None) -> torch.Tensor:
        """DEPNet samples ``(num, 3, h, w)`` (before patch transfer)."""
        h, w = self.lr_size_for(size)
        z = torch.randn(num, 1, h, w, generator=_as_generator(generator)).to(self.lr.device)
        return self.depnet(z)

    @torch.no_grad()
    def sample(self, num: int = 1, *, size: tuple[int, int] | None = None,
               generator: torch.Generator | int | None = None, batch_size: int = 4, **options) -> torch.Tensor:
        """Random samples ``(num, 3, H, W)`` in ``[-1, 1]``: ``F(G_ema(z))``, ``z ~ N(0, 1)`` at ``size / factor``,
        then :meth:`refine` when ``config.hr_refine`` is set.

        Args:
            num: how many (>= 1).
            size: output ``(H, W)`` (default: the training HR size), rounded to multiples of ``factor``;
                the positional encoding is extended as ``config.pe_extension`` says.
            generator: seed or generator of the noise (same seed, same samples).
            batch_size: samples computed at once (memory).

        Raises:
            ValueError: ``num < 1``, a side below ``3 * factor`` px, or an unknown option.
        """
        if options:
            raise ValueError(f"PetsGAN samples take no option(s) {sorted(options)} (one scale: no start scale)")
        if num < 1:
            raise ValueError(f"num must be >= 1, got {num}")
        gen = _as_generator(generator)
        lr = self.sample_lr(num, size=size, generator=gen)
        return self.refine(torch.cat([self.dipnet(lr[i : i + batch_size]) for i in range(0, num, batch_size)]))

    @torch.no_grad()
    def reconstruction(self) -> torch.Tensor:
        """``F(G_ema(z*))``: the sample of DEPNet's reconstruction noise, ``(1, 3, H, W)``."""
        return self.dipnet(self.depnet(self.fixed_noise))

    @torch.no_grad()
    def restore(self, lr: torch.Tensor | None = None) -> torch.Tensor:
        """``IR(LR)``: DIPNet's restoration of the training image (no patch transfer)."""
        return self.ir(self.lr if lr is None else lr)

    # ------------------------------------------------------------------ Injectable (paper fig. 7)
    def valid_injection_scales(self) -> range:
        """One scale, 0: the LR level DIPNet starts from."""
        return range(0, 1)

    def image_at_scale(self, scale: int) -> torch.Tensor:
        if scale != 0:
            raise ValueError(f"PetsGAN has one injection scale, 0; got {scale}")
        return self.lr

    @torch.no_grad()
    def inject(self, image: torch.Tensor, scale: int = 0, *, num: int = 1, size: tuple[int, int] | None = None,
               noise: str = "random", generator: torch.Generator | None = None) -> torch.Tensor:
        """DIPNet on an image: resize to the LR size, patch transfer, IR (paper fig. 7: reconstruction only).

        The result does not depend on noise (DIPNet is deterministic), so ``num`` copies are equal.

        Args:
            image: ``(1, 3, H, W)`` in ``[-1, 1]``, any size.
            scale: 0.
            size: output ``(H, W)`` (rounded to multiples of ``factor``; default: the training HR size).

        Raises:
            ValueError: ``scale`` other than 0, bad size or noise mode.
        """
        if scale != 0:
            raise ValueError(f"PetsGAN has one injection scale, 0; got {scale}")
        if noise not in ("random", "zero"):
            raise ValueError(f"noise must be 'random' or 'zero', got {noise!r}")
        lr = resize(image.to(self.lr.device), self.lr_size_for(size))
        return self.dipnet(lr).expand(num, -1, -1, -1).clone()
