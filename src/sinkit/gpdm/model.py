"""GPDM: generation by direct patch-distribution matching (Elnekave & Weiss, ECCV 2022).

No training: the output pixels are optimised, coarse to fine, to minimise the
sliced Wasserstein distance between their 7x7 patches and the image's
(:func:`sinkit.core.patches.patch_swd_loss`, 64 random directions redrawn every
step, 300 Adam steps per level, lr 0.01 decayed by 0.9 per level, pyramid
factor 0.85 down to ~21 px)::

    y = zeros + N(0, 1.5^2)                       # at the coarsest level
    for each level (coarse to fine):
        y = up(y)
        repeat 300 times: y -= Adam(grad_y SWD(patches(y), patches(x_level)))
        y = clip(y, -1, 1)

Random samples of any size (reshuffling, retargeting, texture synthesis) start
from noise; style transfer and structural changes inject an image as the
initial guess at a level (:meth:`GPDM.inject`).  Reference read:
ariel415el/GPDM (``GPDM.py``, ``patch_swd.py``, ``main.py``).
"""

from __future__ import annotations

import torch

from ..core.capabilities import Injectable, Sampler
from ..core.patches import patch_pyramid, patch_swd_loss, random_directions, sorted_projections
from ..core.patches.model import ImagePatchModel
from ..core.registry import register_method
from ..core.resize import resize
from .config import PRESETS, GPDMConfig

__all__ = ["GPDM"]


def _generator(generator: torch.Generator | int | None) -> torch.Generator:
    if isinstance(generator, int):
        return torch.Generator().manual_seed(generator)
    if generator is None:
        return torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,))))
    return generator


@register_method("gpdm")
class GPDM(ImagePatchModel, Sampler, Injectable):
    """GPDM on one image: random samples / retargeting / texture synthesis (:meth:`sample`),
    style transfer and image injection (:meth:`inject`).

    Example::

        model = GPDM.fit("style.jpg")
        out = model.inject(sinkit.load_image("content.jpg"), model.num_scales - 1)   # style transfer
    """

    config_class = GPDMConfig
    presets = PRESETS
    usage = (
        "GPDM needs no training: `sinkit sample photo.jpg --method gpdm`; style transfer: "
        "`sinkit transfer --method gpdm --style style.jpg --input content.jpg`."
    )
    mask_dilation = {"edit": 20, "harmonize": 7}
    #: ``sinkit transfer`` without ``--scale``: optimise at the finest level only, from the content
    #: image (official scripts/style_transfer.py: one pyramid level, init_from = the content image)
    default_injection_scale = {"transfer": -1}

    def __init__(self, config: GPDMConfig, inputs, info: dict | None = None):
        super().__init__(config, inputs, info)
        h, w = self.real.shape[-2:]
        if min(h, w) < config.coarsest_size:
            raise ValueError(f"image {h}x{w} is smaller than the coarsest level ({config.coarsest_size} px short side)")
        self.spec = patch_pyramid(h, w, factor=config.scale_factor, coarsest=config.coarsest_size)

    # ----------------------------------------------------------------- the optimisation
    def match_level(self, x: torch.Tensor, level: int, lr: float, generator: torch.Generator) -> torch.Tensor:
        """``config.steps`` Adam steps on the pixels of ``x`` towards the patch distribution of level ``level``."""
        c = self.config
        target = self.pyramid[level]
        x = x.detach().clone().requires_grad_(True)
        opt = torch.optim.Adam([x], lr=lr)
        for _ in range(c.steps):
            dirs = random_directions(c.projections, 3, c.patch_size, generator=generator, device=x.device)
            with torch.no_grad():
                ref = sorted_projections(target, dirs)
            loss = patch_swd_loss(x, ref, dirs, pooled=c.pooled_batch) * x.shape[0]  # mean per sample -> sum
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return x.detach().clamp(-1, 1)

    def _run(self, x: torch.Tensor, start: int, sizes: list[tuple[int, int]], generator: torch.Generator) -> torch.Tensor:
        lr = self.config.lr
        for level in range(start, self.num_scales):
            x = resize(x, sizes[level], clamp=False) if level > start else x
            with torch.enable_grad():
                x = self.match_level(x, level, lr, generator)
            lr *= self.config.lr_decay
        return x

    # ----------------------------------------------------------------- capabilities
    @torch.no_grad()
    def sample(
        self,
        num: int = 1,
        *,
        size: tuple[int, int] | None = None,
        generator: torch.Generator | int | None = None,
        noise_std: float | None = None,
        batch_size: int = 8,
        **_ignored,
    ) -> torch.Tensor:
        """Random samples of any size (reshuffling; a larger ``size`` is texture synthesis).

        The initial guess is zeros plus Gaussian noise (std ``config.noise_std``) at the
        coarsest level (official ``--init_from zeros --noise_sigma 1.5``).

        Args:
            num: number of samples.
            size: ``(height, width)`` px (default: the image's).
            generator: seed or ``torch.Generator``: the noise and every step's random directions.
            noise_std: overrides ``config.noise_std``.
            batch_size: samples optimised together.

        Returns:
            ``(num, 3, H, W)`` in ``[-1, 1]``.
        """
        if num < 1:
            raise ValueError(f"num must be >= 1, got {num}")
        generator = _generator(generator)
        sizes = self.level_sizes(size)
        std = self.config.noise_std if noise_std is None else noise_std
        out = []
        for first in range(0, num, batch_size):
            b = min(batch_size, num - first)
            x = torch.randn(b, 3, *sizes[0], generator=generator).to(self.real.device) * std
            out.append(self._run(x, 0, sizes, generator))
        return torch.cat(out)

    @torch.no_grad()
    def inject(
        self,
        image: torch.Tensor,
        scale: int,
        *,
        num: int = 1,
        size: tuple[int, int] | None = None,
        noise: str = "zero",
        generator: torch.Generator | int | None = None,
    ) -> torch.Tensor:
        """Optimise from an injected image at level ``scale`` on (style transfer at the finest level).

        Style transfer (paper sec. 4.3): the content image is the initial guess and
        the output is pushed to the style image's patch distribution, keeping the
        content's layout (official ``scripts/style_transfer.py``: one level,
        ``init_from`` = the content image, no noise).  Injecting at a coarser level
        changes larger structures (retargeting from the resized image: scale 0).

        Args:
            image: ``(1, 3, H, W)`` in ``[-1, 1]``: resized to the level's size.
            scale: level index (0 = coarsest; negative counts from the finest).
            num: outputs (they differ only through the random directions and ``noise``).
            size: output ``(height, width)`` (default: the image's).
            noise: ``"zero"`` (official) or ``"random"`` (adds the sampling noise).

        Returns:
            ``(num, 3, H', W')``.
        """
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError(f"image: expected a (1, 3, H, W) tensor in [-1, 1], got shape {tuple(image.shape)}")
        if scale < 0:
            scale += self.num_scales
        if not 0 <= scale < self.num_scales:
            raise ValueError(f"injection scale must be in 0..{self.num_scales - 1}, got {scale}")
        if noise not in ("zero", "random"):
            raise ValueError(f"noise must be 'zero' or 'random' for GPDM, got {noise!r}")
        generator = _generator(generator)
        sizes = self.level_sizes(size)
        x = resize(image[:1].float().to(self.real.device), sizes[scale]).repeat(num, 1, 1, 1)
        if noise == "random":
            x = x + torch.randn(x.shape, generator=generator).to(x.device) * self.config.noise_std
        return self._run(x, scale, sizes, generator)
