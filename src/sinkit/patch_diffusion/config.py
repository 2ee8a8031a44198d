"""Settings of the closed-form patch-diffusion sampler (Qiu, Kutulakos & Lindell, "Efficient and
Training-Free Single-Image Diffusion Models", CVPR 2026; official haojunqiu/efficient-SID-code,
``configs/uncond/paper_sinddm15.yaml`` -- the configuration of the paper's Table 1)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PatchDiffusionConfig", "PRESETS"]


@dataclass(frozen=True)
class PatchDiffusionConfig:
    """Everything that defines a patch-diffusion model; stored verbatim with the model."""

    # --- pyramid (pyramid.relative_scale 0.5, num_scales 4)
    max_size: int | None = 250
    """long side of the finest level, px (official ``input_resize_to: null`` keeps the input; the
    SinDDM benchmark images are ~250 px); larger images are shrunk, never enlarged"""
    num_scales: int = 4
    """pyramid levels (official ``pyramid.num_scales``)"""
    scale_factor: float = 0.5
    """ratio between levels (official ``pyramid.relative_scale``); each level is resized from the finer one"""

    # --- the closed-form denoiser (image_denoiser.*)
    patch_size: int = 15
    """patch side, px (official ``patch_size``)"""
    fold_rho: float = 0.2
    """Gaussian window (std in patch coordinates [-1, 1]) overlapping estimates are averaged with"""
    denoiser: str = "auto"
    """``exact`` (softmax over every patch, paper Table 1), ``ann`` (softmax over the ``k`` nearest
    patches from a faiss IVF index, official ``pixel_ann.yaml``), ``auto`` (official type "auto":
    exact where the query x key pairs of a level are few, ann above ``exact_max_pairs``)"""
    exact_max_pairs: int = 1 << 25
    """``auto``: the largest query x key count denoised exactly (the official threshold, 250k keys,
    is tuned for a GPU; this one keeps a 250 px image's two finest levels approximate on a CPU)"""
    k: int = 5
    """nearest patches averaged by the ``ann`` denoiser (official ``k``)"""
    nprobe: int = 2
    """IVF lists probed (official ``nprobe``; ``nlist`` = sqrt(N) there, 2 sqrt(N) here)"""
    search_dims: int = 32
    """principal components the ``ann`` index searches (the weights use full-dimensional distances)"""

    # --- sampler (scheduler.*: flow_linear, 10 steps, sigma_min 1e-4, eta 0)
    steps: int = 10
    """denoiser evaluations per level (official ``num_steps``)"""
    sigma_min: float = 1e-4
    """smallest noise level evaluated (flow_linear: alpha_t from 1 - sigma_min down to 0)"""
    eta: float = 0.0
    """fresh-noise fraction of each step, 0 = deterministic DDIM (paper eq. 5)"""
    seed: int = 10
    """official ``seed``; default seed of ``sinkit train``'s preview samples"""

    def __post_init__(self) -> None:
        if self.num_scales < 1 or self.steps < 1 or self.patch_size < 1 or self.k < 1:
            raise ValueError("num_scales, steps, patch_size and k must be >= 1")
        if not 0 < self.scale_factor < 1:
            raise ValueError(f"scale_factor must be in (0, 1), got {self.scale_factor}")
        if self.denoiser not in ("exact", "ann", "auto"):
            raise ValueError(f"denoiser must be exact, ann or auto, got {self.denoiser!r}")
        if not 0 <= self.eta <= 1:
            raise ValueError(f"eta must be in [0, 1], got {self.eta}")
        if not self.fold_rho > 0:
            raise ValueError(f"fold_rho must be positive, got {self.fold_rho}")


PRESETS: dict[str, PatchDiffusionConfig] = {
    # paper_sinddm15.yaml with the denoiser chosen per level by size (exact on the coarse levels)
    "paper": PatchDiffusionConfig(),
    # exactly paper_sinddm15.yaml: the exact denoiser at every level (minutes per sample on a CPU)
    "exact": PatchDiffusionConfig(denoiser="exact"),
    # pixel_ann.yaml: the k = 5 nearest patches at every level
    "ann": PatchDiffusionConfig(denoiser="ann"),
    # the quickest: the ann denoiser everywhere (same as "ann"; every method has a "fast" preset)
    "fast": PatchDiffusionConfig(denoiser="ann"),
}
