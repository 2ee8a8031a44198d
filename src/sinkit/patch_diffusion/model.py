"""Closed-form single-image patch diffusion (Qiu, Kutulakos & Lindell, CVPR 2026).

No training: the optimal (posterior-mean) denoiser of the image's set of
``15 x 15`` patches has a closed form, the softmax-weighted mean of all clean
patches (paper eq. 3; :func:`sinkit.core.patches.exact_kernel_regression`)::

    x_hat(q) = sum_j softmax_j(-||q - alpha_t y_j||^2 / (2 sigma_t^2)) y_j

It is applied to every patch of the noisy image and the overlapping estimates
are averaged with a Gaussian window; a deterministic DDIM sampler (flow-linear
schedule, 10 steps) runs at each of 4 levels (factor 0.5), coarse to fine, and
after every denoiser call the estimate takes its low frequencies from the
finished coarser level (Laplacian blend)::

    for each level s (coarse to fine):
        x = N(0, 1)
        for t = T .. 1:
            x_hat = fold(denoise(patches(x), alpha_t, sigma_t))
            eps   = (x - alpha_t x_hat) / sigma_t
            if s not coarsest and t > 1:  x_hat = up(y_{s+1}) + x_hat - up(down(x_hat))
            x     = alpha_{t-1} x_hat + sigma_{t-1} eps            # eq. 5, eta = 0
        y_s = x

Retargeting (paper sec. 5) fixes the coarsest level to the image resized to the
new shape.  Official code read: haojunqiu/efficient-SID-code
(``efficient_sid/closed_form_denoiser.py``, ``image_denoiser.py``,
``scheduler.py``, ``pyramid.py``, ``applications/uncond.py``, ``retarget.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..core.capabilities import Sampler
from ..core.patches import (
    PatchIndex,
    check_patch_fits,
    exact_kernel_regression,
    extract_patches,
    gather_patches,
    gaussian_patch_weights,
    patch_grid,
    patch_pyramid,
    shortlist_kernel_regression,
)
from ..core.patches.model import ImagePatchModel
from ..core.pyramid import build_pyramid_chained
from ..core.registry import register_method
from ..core.resize import resize
from .config import PRESETS, PatchDiffusionConfig

__all__ = ["PatchDiffusion", "flow_linear_schedule", "PatchDenoiser"]

#: query entries (patches x D) denoised at once: small bands keep the temporaries in cache
_BAND_ELEMENTS = 1 << 21
#: the ann denoiser gathers candidates from a key-patch matrix up to this many entries, else from the image
_KEY_MATRIX_ELEMENTS = 1 << 26


def flow_linear_schedule(steps: int, sigma_min: float = 1e-4) -> tuple[torch.Tensor, torch.Tensor]:
    """``(alphas, sigmas)`` of the flow-linear schedule, index 0 = the clean terminal ``(1, 0)``.

    ``alpha_t`` falls linearly from ``1 - sigma_min`` (t = 1) to 0 (t = steps) and
    ``sigma_t = 1 - alpha_t`` (official ``FlowLinearScheduler``); ``x_t = alpha_t x + sigma_t eps``.
    """
    a = torch.linspace(1 - sigma_min, 0.0, steps, dtype=torch.float64)
    alphas = torch.cat([torch.ones(1, dtype=torch.float64), a])
    return alphas, 1 - alphas


class PatchDenoiser:
    """The closed-form denoiser of one level's patch set, applied to whole images.

    Args:
        clean: ``(1, 3, H, W)`` the level's clean image (its stride-1 patches are the data set).
        config: the model's config (patch size, fold window, denoiser kind...).
        kind: ``"exact"`` or ``"ann"``.
    """

    def __init__(self, clean: torch.Tensor, config: PatchDiffusionConfig, kind: str):
        self.clean = clean.float()
        self.p = config.patch_size
        self.kind = kind
        self.k = config.k
        self.window = gaussian_patch_weights(self.p, config.fold_rho).to(clean.device)
        check_patch_fits(clean.shape, self.p, "pyramid level")
        if kind == "exact":
            self.keys = extract_patches(self.clean, self.p)[0].contiguous()
            self.mean = self.keys.mean(0)
        else:
            self.index = PatchIndex(self.clean, self.p, method="ivf" if _ivf_ok(self.clean, self.p) else "exact",
                                    dims=config.search_dims, nprobe=config.nprobe)
            rows, cols = patch_grid(self.clean.shape, self.p)
            small = rows * cols * 3 * self.p * self.p <= _KEY_MATRIX_ELEMENTS
            self.keys = extract_patches(self.clean, self.p)[0].contiguous() if small else None
            self.mean = self._patch_mean()
        self._norms: dict[tuple[int, int, int], torch.Tensor] = {}

    def _patch_mean(self) -> torch.Tensor:
        """Mean of all patches, from pixel sums over the positions each patch entry covers (no patch matrix)."""
        rows, cols = patch_grid(self.clean.shape, self.p)
        c = self.clean.shape[1]
        entries = [self.clean[0, :, dy : dy + rows, dx : dx + cols].mean(dim=(1, 2)) for dy in range(self.p) for dx in range(self.p)]
        return torch.stack(entries, dim=1).reshape(c * self.p * self.p)

    def denoise_patches(self, q: torch.Tensor, alpha: float, sigma: float) -> torch.Tensor:
        """Exact clean estimates ``(M, D)`` of noisy patches ``q`` ``(M, D)`` (every patch of the level)."""
        if self.kind != "exact":
            raise ValueError("denoise_patches is the exact denoiser; the ann denoiser works on images (call the denoiser)")
        return exact_kernel_regression(q, self.keys, alpha, sigma)

    def __call__(self, x: torch.Tensor, alpha: float, sigma: float) -> torch.Tensor:
        """``(B, 3, H, W)`` clean estimate of the noisy images ``x`` at ``(alpha, sigma)``.

        Patch rows are processed in bands, so at most ~16 Mi query entries exist at once.
        """
        b, c, h, w = x.shape
        rows, cols = patch_grid((h, w), self.p)
        d = c * self.p * self.p
        band = max(1, _BAND_ELEMENTS // (cols * d))
        out = torch.zeros_like(x)
        norm = torch.zeros(1, 1, h, w, dtype=x.dtype, device=x.device)
        wins = self.window.reshape(1, -1).expand(c, -1).reshape(-1)
        for r0 in range(0, rows, band):
            r1 = min(rows, r0 + band)
            xs = x[:, :, r0 : r1 + self.p - 1, :]
            est = self._estimate(xs, alpha, sigma)  # (B, L_band, D)
            bh = r1 - r0 + self.p - 1
            out[:, :, r0 : r0 + bh, :] += F.fold((est * wins).transpose(1, 2), (bh, w), self.p)
            norm[:, :, r0 : r0 + bh, :] += self._band_norm(r1 - r0, bh, w, cols)
        return out / norm

    def _band_norm(self, band_rows: int, bh: int, w: int, cols: int) -> torch.Tensor:
        key = (band_rows, bh, w)
        if key not in self._norms:
            ones = self.window.reshape(1, -1, 1).expand(1, -1, band_rows * cols).contiguous()
            self._norms[key] = F.fold(ones, (bh, w), self.p)
        return self._norms[key]

    def _estimate(self, xs: torch.Tensor, alpha: float, sigma: float) -> torch.Tensor:
        q = extract_patches(xs, self.p)  # (B, L, D)
        if self.kind == "exact":
            return torch.stack([self.denoise_patches(q[i], alpha, sigma) for i in range(q.shape[0])])
        if alpha == 0:  # flat kernel: every patch weighs the same (official dataset_mean)
            return self.mean.expand(q.shape[0], q.shape[1], -1)
        # ||q - a y||^2 = a^2 ||q / a - y||^2: the k nearest to q / a are the heaviest (official ANN backend)
        _, idx = self.index.search(xs / alpha, self.k)  # (B, L, k)
        out = []
        for i in range(q.shape[0]):
            if self.keys is not None:
                cand = self.keys[idx[i].reshape(-1)].reshape(*idx[i].shape, -1)  # (L, k, D)
            else:
                cand = gather_patches(self.clean[0], idx[i], self.p)
            out.append(shortlist_kernel_regression(q[i], cand, alpha, sigma))
        return torch.stack(out)


def _ivf_ok(image: torch.Tensor, p: int) -> bool:
    from ..core.patches import faiss_available

    rows, cols = patch_grid(image.shape, p)
    return faiss_available() and rows * cols >= 256


@register_method("patch_diffusion")
class PatchDiffusion(ImagePatchModel, Sampler):
    """Closed-form patch diffusion on one image: unconditional samples of any size, retargeting.

    Example::

        model = PatchDiffusion.fit("photo.jpg")
        samples = model.sample(4, generator=0)
        wide = model.retarget((188, 375))
    """

    config_class = PatchDiffusionConfig
    presets = PRESETS
    usage = (
        "patch_diffusion needs no training: `sinkit sample photo.jpg --method patch_diffusion` "
        "(any size with --scale-h / --scale-v); it does not take injected images."
    )

    def __init__(self, config: PatchDiffusionConfig, inputs, info: dict | None = None):
        super().__init__(config, inputs, info)
        h, w = self.real.shape[-2:]
        self.spec = patch_pyramid(h, w, factor=config.scale_factor, num_scales=config.num_scales)
        check_patch_fits(self.spec.sizes[0], config.patch_size, f"coarsest level ({config.num_scales} levels, factor {config.scale_factor})")
        self._denoisers: dict[int, PatchDenoiser] = {}

    def build_pyramid(self) -> list[torch.Tensor]:
        """Each level resized from the next finer one, antialiased (official)."""
        return build_pyramid_chained(self.real.float(), self.spec, antialias=True)

    def pyramid_changed(self) -> None:
        self._denoisers = {}

    def denoiser_kind(self, level: int) -> str:
        """``exact`` or ``ann`` at ``level`` (``auto``: by the level's query x key count)."""
        c = self.config
        if c.denoiser != "auto":
            return c.denoiser
        rows, cols = patch_grid(self.sizes[level], c.patch_size)
        n = rows * cols
        from ..core.patches import faiss_available

        return "exact" if n * n <= c.exact_max_pairs or not faiss_available() else "ann"

    def denoiser(self, level: int) -> PatchDenoiser:
        pyramid = self.pyramid
        if level not in self._denoisers:
            self._denoisers[level] = PatchDenoiser(pyramid[level], self.config, self.denoiser_kind(level))
        return self._denoisers[level]

    # ----------------------------------------------------------------- sampling
    def _blend(self, fine: torch.Tensor, coarser: torch.Tensor) -> torch.Tensor:
        """Laplacian consistency (official ``blend_two_scale``): low band from ``coarser``, detail from ``fine``."""
        size = tuple(fine.shape[-2:])
        low = tuple(max(1, -(-s // 2)) for s in size)  # ceil(side * 0.5): the official next-level shape
        detail = fine - resize(resize(fine, low, clamp=False), size, clamp=False)
        return resize(coarser, size, clamp=False) + detail

    def _level(self, x: torch.Tensor, level: int, coarser: torch.Tensor | None, generator: torch.Generator | None) -> torch.Tensor:
        c = self.config
        alphas, sigmas = flow_linear_schedule(c.steps, c.sigma_min)
        den = self.denoiser(level)
        for t in range(c.steps, 0, -1):
            a, s = float(alphas[t]), float(sigmas[t])
            x_hat = den(x, a, s)
            eps = (x - a * x_hat) / s
            if coarser is not None and t != 1:
                x_hat = self._blend(x_hat, coarser)
            if t == 1:
                x = x_hat
                break
            a1, s1 = float(alphas[t - 1]), float(sigmas[t - 1])
            if c.eta == 0:
                x = a1 * x_hat + s1 * eps
            else:
                fresh = torch.randn(x.shape, generator=generator).to(x.device)
                sto = c.eta * s1
                x = a1 * x_hat + (s1 * s1 - sto * sto) ** 0.5 * eps + sto * fresh
        return x

    @torch.no_grad()
    def sample(
        self,
        num: int = 1,
        *,
        size: tuple[int, int] | None = None,
        generator: torch.Generator | int | None = None,
        batch_size: int = 8,
        **_ignored,
    ) -> torch.Tensor:
        """Unconditional samples (official ``sample_uncond``), of any size.

        Every level starts from standard Gaussian noise of its size; the result is
        a deterministic function of that noise (``eta = 0``).

        Args:
            num: number of samples.
            size: ``(height, width)`` px (default: the image's).
            generator: seed or ``torch.Generator``.
            batch_size: samples denoised together.

        Returns:
            ``(num, 3, H, W)`` in ``[-1, 1]``.
        """
        if num < 1:
            raise ValueError(f"num must be >= 1, got {num}")
        if isinstance(generator, int):
            generator = torch.Generator().manual_seed(generator)
        sizes = self.level_sizes(size)
        out = []
        for first in range(0, num, batch_size):
            b = min(batch_size, num - first)
            noise = [torch.randn(b, 3, *s, generator=generator).to(self.real.device) for s in sizes]
            y = None
            for level in range(self.num_scales):
                y = self._level(noise[level], level, y, generator)
            out.append(y.clamp(-1, 1))
        return torch.cat(out)

    @torch.no_grad()
    def retarget(self, size: tuple[int, int], *, num: int = 1, generator: torch.Generator | int | None = None) -> torch.Tensor:
        """The image's content rearranged to ``size`` (official ``sample_retargeting``).

        The coarsest level is the image resized to the target shape (it pins the
        layout); the finer levels are sampled from noise with the original
        image's patches.

        Returns:
            ``(num, 3, h, w)``.
        """
        if isinstance(generator, int):
            generator = torch.Generator().manual_seed(generator)
        sizes = self.level_sizes(size)
        y = resize(self.pyramid[0], sizes[0]).expand(num, -1, -1, -1)
        for level in range(1, self.num_scales):
            x = torch.randn(num, 3, *sizes[level], generator=generator).to(self.real.device)
            y = self._level(x, level, y, generator)
        return y.clamp(-1, 1)
