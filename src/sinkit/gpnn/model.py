"""GPNN: generative patch nearest neighbours (Granot, Feinstein, Shocher, Bagon, Irani, CVPR 2022).

No training: the image is the model.  A SinGAN-like pyramid is generated
coarse to fine; at every level each ``7 x 7`` patch of the current output is
replaced by its completeness-normalised nearest neighbour among the real
image's patches (paper eq. 2), and overlapping patches are averaged (fold)::

    y_coarsest = x_coarsest + noise                       # paper sec. 3.1
    for each level n (coarse to fine):
        y = up(y_{n+1})
        repeat T times:                                   # T = 10 (1 at the coarsest)
            Q = patches(y); K = patches(keys_n); V = patches(x_n)
            y = fold(V[NN(Q, K)])                         # NN: eq. 2, overlaps averaged

Conditional tasks inject an image instead of noise (structural analogy,
paint-to-image, editing) or keep the known pixels of a masked image fixed
(conditional inpainting, paper sec. 4.3).  Public references read:
iyttor/GPNN (``model/gpnn.py``), ariel415el/Efficient-GPNN (``GPNN.py``, ``utils/NN.py``).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

from ..core.capabilities import Injectable, Sampler
from ..core.patches import PatchIndex, fold_nearest, patch_pyramid
from ..core.patches.model import ImagePatchModel
from ..core.pyramid import PyramidSpec, build_pyramid
from ..core.registry import register_method
from ..core.resize import resize
from .config import PRESETS, GPNNConfig

__all__ = ["GPNN"]


def _generator(generator: torch.Generator | int | None) -> torch.Generator | None:
    if isinstance(generator, int):
        return torch.Generator().manual_seed(generator)
    return generator


def _check_image(image: torch.Tensor, name: str = "image") -> None:
    if not torch.is_tensor(image) or image.dim() != 4 or image.shape[1] != 3:
        shape = tuple(image.shape) if torch.is_tensor(image) else type(image).__name__
        raise ValueError(f"{name}: expected a (B, 3, H, W) tensor in [-1, 1], got {shape}")


@register_method("gpnn")
class GPNN(ImagePatchModel, Sampler, Injectable):
    """GPNN on one image: random samples of any size, injection, conditional inpainting.

    Build it with ``GPNN.fit(image, config)`` (or ``sinkit.get_method("gpnn").fit``):
    no training happens, the image (shrunk to ``config.max_size``) is the model.

    Example::

        model = GPNN.fit("photo.jpg")                       # the paper preset
        samples = model.sample(4, size=(188, 375), generator=0)
    """

    config_class = GPNNConfig
    presets = PRESETS
    usage = (
        "GPNN needs no training: `sinkit sample photo.jpg --method gpnn`; paint / edit / harmonize / transfer "
        "inject an image (`--method gpnn`); `sinkit inpaint photo.jpg --mask m.png` fills a hole."
    )
    #: editing / harmonisation masks: the project's SinGAN radii (GPNN publishes none)
    mask_dilation = {"edit": 20, "harmonize": 7}

    def __init__(self, config: GPNNConfig, inputs, info: dict | None = None):
        super().__init__(config, inputs, info)
        h, w = self.real.shape[-2:]
        if min(h, w) < config.coarsest_size:
            raise ValueError(
                f"image {h}x{w} is smaller than the coarsest level ({config.coarsest_size} px short side); "
                "use a larger image or lower coarsest_size"
            )
        self.spec = patch_pyramid(h, w, factor=config.scale_factor, coarsest=config.coarsest_size)
        self._indexes: dict[tuple, PatchIndex] = {}

    def pyramid_changed(self) -> None:
        self._indexes = {}

    # ----------------------------------------------------------------- one PNN step
    def _index(self, spec: PyramidSpec, pyramid: list[torch.Tensor], level: int, blurred: bool, valid: torch.Tensor | None, cache: bool | dict) -> PatchIndex:
        """The key index of ``level`` (cached on the model, or in the dict ``cache`` for one masked run)."""
        key = (spec.sizes, level, blurred)
        store = cache if isinstance(cache, dict) else self._indexes
        if cache is not False and key in store:
            return store[key]
        keys_image = resize(pyramid[level - 1], spec.sizes[level]) if blurred else pyramid[level]
        c = self.config
        index = PatchIndex(keys_image, c.patch_size, method=c.search, dims=c.search_dims, nprobe=c.nprobe, seed=c.seed, valid=valid)
        if cache is not False:
            store[key] = index
        return index

    def _pnn(self, x: torch.Tensor, index: PatchIndex, values: torch.Tensor, alpha: float) -> torch.Tensor:
        """One patch-nearest-neighbour replacement (paper sec. 3, "PNN generation module")."""
        d = 3 * self.config.patch_size ** 2
        nn = index.completeness_nn(x, alpha * d, self.config.shortlist)
        return fold_nearest(values, nn, tuple(x.shape[-2:]), self.config.patch_size)

    def _run(
        self,
        x: torch.Tensor,
        start: int,
        *,
        sizes: Sequence[tuple[int, int]] | None = None,
        spec: PyramidSpec | None = None,
        pyramid: list[torch.Tensor] | None = None,
        alpha: float | None = None,
        known: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Refine ``x`` (given at level ``start``) through every finer level.

        ``known`` / ``mask``: an image whose pixels outside the mask (mask 0) are kept
        at every iteration of every level; only mask-1 pixels are synthesised, and
        key patches touching the mask are never copied.
        """
        c = self.config
        spec = spec or self.spec
        pyramid = pyramid or self.pyramid
        sizes = list(sizes or spec.sizes)
        alpha = c.alpha if alpha is None else alpha
        x = resize(x, sizes[start])
        run_cache: dict = {}  # a masked run's indexes (they depend on the mask): kept for its iterations only
        for level in range(start, spec.num_scales):
            if level > start:
                x = resize(x, sizes[level])
            m_l = k_l = valid = None
            if mask is not None:
                m_l = resize(mask, sizes[level], clamp=False).clamp(0, 1)
                k_l = resize(known, sizes[level])
                touched = F.max_pool2d((resize(mask, spec.sizes[level], clamp=False) > 1e-3).float(), c.patch_size, stride=1)
                valid = touched.reshape(-1) == 0
            iters = c.coarsest_iters if level == 0 else c.iters
            for it in range(iters):
                blurred = c.blur_keys and level > 0 and it == 0
                index = self._index(spec, pyramid, level, blurred, valid, cache=True if mask is None else run_cache)
                x = self._pnn(x, index, pyramid[level][0], alpha)
                if m_l is not None:
                    x = m_l * x + (1 - m_l) * k_l
        return x.clamp(-1, 1)

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
        """Random samples (paper sec. 4.1), of any size (retargeting).

        The coarsest level is the image at that level's size plus Gaussian noise
        (one value per pixel shared by the channels, std ``noise_std``, default
        ``config.noise_std``); every level is then refined.  With ``noise_std=0``
        and the image's size the output is the image itself (GPNN's identity case).

        Args:
            num: number of samples.
            size: ``(height, width)`` of the samples, px (default: the image's).
            generator: ``torch.Generator`` or integer seed (same seed, same samples).
            noise_std: overrides ``config.noise_std``.
            batch_size: samples refined together (one index search for the whole batch).

        Returns:
            ``(num, 3, H, W)`` in ``[-1, 1]``.

        Raises:
            ValueError: ``num < 1``, or a size whose coarsest level is smaller than a patch.
        """
        if num < 1:
            raise ValueError(f"num must be >= 1, got {num}")
        generator = _generator(generator)
        sizes = self.level_sizes(size)
        std = self.config.noise_std if noise_std is None else noise_std
        coarse = resize(self.pyramid[0], sizes[0])
        out = []
        for first in range(0, num, batch_size):
            b = min(batch_size, num - first)
            noise = torch.randn(b, 1, *sizes[0], generator=generator).to(coarse.device) * std
            out.append(self._run(coarse + noise, 0, sizes=sizes))
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
        alpha: float | None = None,
    ) -> torch.Tensor:
        """Refine an injected image with this image's patches, from level ``scale`` on.

        Structural analogy and paint-to-image (paper sec. 4.4: the coarse image
        replaces the noisy coarsest level), editing and harmonisation (the composite
        injected at a middle level; ``sinkit.tasks`` blends the result into it with
        the mask).  GPNN adds no noise to an injected image (``noise="zero"``); with
        ``noise="random"`` the coarsest-level noise of :meth:`sample` is added, so the
        ``num`` outputs differ.

        Args:
            image: ``(1, 3, H, W)`` in ``[-1, 1]``, any size: resized to the level's size.
            scale: level the image is injected at (0 = coarsest).
            num: number of outputs.
            size: output ``(height, width)`` (default: the image's).
            noise: ``"zero"`` or ``"random"``.
            alpha: completeness weight (default ``config.inject_alpha``; None there = plain nearest
                neighbour).

        Returns:
            ``(num, 3, H', W')``.

        Raises:
            ValueError: bad image, scale or noise mode.
        """
        _check_image(image)
        if not 0 <= scale < self.num_scales:
            raise ValueError(f"injection scale must be in 0..{self.num_scales - 1}, got {scale}")
        if noise not in ("zero", "random"):
            raise ValueError(f"noise must be 'zero' or 'random' for GPNN, got {noise!r}")
        sizes = self.level_sizes(size, first=scale)  # the levels coarser than ``scale`` are never used
        x = resize(image[:1].float().to(self.real.device), sizes[scale]).expand(num, -1, -1, -1)
        if noise == "random":
            z = torch.randn(num, 1, *sizes[scale], generator=_generator(generator)).to(x.device)
            x = x + z * self.config.noise_std
        if alpha is None:
            alpha = math.inf if self.config.inject_alpha is None else self.config.inject_alpha
        return self._run(x, scale, sizes=sizes, alpha=alpha)

    def inpainting_coarsest(self, mask: torch.Tensor) -> int:
        """Coarsest short side for inpainting: the hole spans about one patch there (iyttor/GPNN rule)."""
        m = resize(mask.float(), tuple(self.real.shape[-2:]), clamp=False) > 0.5
        hole = int(m[0, 0].sum(0).max())  # tallest column of the hole, px
        short = min(self.real.shape[-2:])
        if hole == 0:
            return short
        return int(min(short, max(self.config.coarsest_size, round(short * self.config.patch_size / hole))))

    @torch.no_grad()
    def inpaint(self, image: torch.Tensor | None, mask: torch.Tensor, *, alpha: float | None = None) -> torch.Tensor:
        """Conditional inpainting (paper sec. 4.3): fill the mask from the rest of the image.

        The masked region of ``image`` holds a rough colour hint (e.g. the user
        painted the hole); the coarsest level is chosen so that the hole is about one
        patch tall there, the hint is the initial guess, and every level copies
        patches that do not touch the hole (iyttor/GPNN ``inpainting.py``, alpha 1).
        Pixels outside the mask are kept.

        Args:
            image: ``(1, 3, H, W)`` image with the hint in the hole (default: the model's
                image, i.e. the hole keeps whatever is there).
            mask: ``(1, 1, H, W)`` in ``[0, 1]``, 1 = fill.

        Returns:
            ``(1, 3, h, w)`` at the model's size.

        Raises:
            ValueError: mask of the wrong shape, empty, or covering the whole image.
        """
        if mask.dim() != 4 or mask.shape[:2] != (1, 1):
            raise ValueError(f"mask: expected a (1, 1, H, W) tensor in [0, 1], got shape {tuple(mask.shape)}")
        size = tuple(self.real.shape[-2:])
        src = self.real if image is None else resize(image.float(), size)
        _check_image(src)
        m = (resize(mask.float(), size, clamp=False) > 0.5).float()
        if m.sum() == 0:
            raise ValueError("mask is empty: nothing to inpaint")
        if m.mean() > 0.9:
            raise ValueError(f"mask covers {100 * float(m.mean()):.0f}% of the image: too little is left to copy from")
        coarsest = self.inpainting_coarsest(m)
        spec = patch_pyramid(*size, factor=self.config.scale_factor, coarsest=coarsest)
        pyramid = build_pyramid(src, spec)
        alpha = self.config.inpaint_alpha if alpha is None else alpha
        return self._run(pyramid[0], 0, spec=spec, pyramid=pyramid, alpha=alpha, known=src, mask=m)
