"""GPNN's settings: the published defaults (Granot et al., "Drop the GAN", CVPR 2022)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GPNNConfig", "PRESETS"]


@dataclass(frozen=True)
class GPNNConfig:
    """Everything that defines a GPNN model; stored verbatim with the model.

    Sources: paper sec. 3 and the public implementations iyttor/GPNN
    (``model/parser.py``) and ariel415el/Efficient-GPNN (``scripts/random_sample.py``).
    """

    # --- pyramid (paper sec. 3: "a pyramid with scale factor 4/3, coarsest ~14 px")
    max_size: int | None = 250
    """long side of the finest level, px; larger images are shrunk, never enlarged (the official
    scripts work at the input's size; 250 is the SinGAN/Places50 convention of this project)"""
    coarsest_size: int = 14
    """short side of the coarsest level, px (official ``coarse_dim`` 14)"""
    scale_factor: float = 0.75
    """nominal ratio between levels (official ``pyramid_ratio`` 4/3, ``pyr_factor`` 0.75); recomputed
    per image so the levels span exactly from the image to ``coarsest_size``"""

    # --- patch nearest neighbours (paper eq. 1-2)
    patch_size: int = 7
    """square patch side, px"""
    alpha: float = 0.005
    """completeness weight of ``d(q, k) / (alpha + min_q' d(q', k))``; small = use every patch of the image,
    large = plain nearest neighbour.  Distances are mean squared differences per patch entry on the
    [-1, 1] scale (Efficient-GPNN's ``efficient_compute_distances``)"""
    iters: int = 10
    """patch-replacement iterations per level (official ``iters`` / ``num_steps`` 10)"""
    coarsest_iters: int = 1
    """iterations at the coarsest level (Efficient-GPNN ``initial_level_num_iters`` 1)"""
    blur_keys: bool = True
    """first iteration of each level matches against the coarser real level upsampled (as blurry as the
    upsampled output being refined) and copies the sharp patches at the same positions (paper fig. 2;
    iyttor ``keys = resize(x_pyramid[i + 1])``); later iterations use the level itself"""

    # --- randomness (paper sec. 3.1)
    noise_std: float = 1.5
    """std of the Gaussian noise added to the coarsest level (one value per pixel, shared by the three
    colour channels), on the [-1, 1] scale: iyttor/GPNN's ``--sigma 0.75`` on its [0, 1] images"""

    inject_alpha: float | None = None
    """``alpha`` for injected images (paint, structural analogy, editing, harmonisation); None = plain
    nearest neighbour.  With the completeness term (0.005) an injected layout drifts back to the
    image's own layout (docs/gpnn.md shows it); iyttor's ``structural_analogies.py`` keeps 0.005"""

    # --- conditional inpainting (paper sec. 4.3; iyttor ``inpainting.py``)
    inpaint_alpha: float = 1.0
    """``alpha`` for inpainting (official default 1)"""

    # --- search (not in the paper: how the nearest neighbours are found)
    search: str = "auto"
    """``exact`` (chunked matmul), ``ivf`` / ``hnsw`` (faiss, optional extra), ``auto`` (by patch count)"""
    search_dims: int = 32
    """principal components searched by the approximate backends"""
    shortlist: int = 4
    """candidates per query re-ranked by the completeness score on the approximate backends"""
    nprobe: int = 2
    """inverted lists probed per query (faiss IVF)"""
    seed: int = 0
    """seed of the approximate index (PCA sample, k-means); sample noise has its own generator"""

    def __post_init__(self) -> None:
        if self.patch_size < 1 or self.iters < 1 or self.coarsest_iters < 1:
            raise ValueError("patch_size, iters and coarsest_iters must be >= 1")
        if self.coarsest_size < self.patch_size:
            raise ValueError(
                f"coarsest_size ({self.coarsest_size}) must hold one {self.patch_size}x{self.patch_size} patch"
            )
        if not 0 < self.scale_factor < 1:
            raise ValueError(f"scale_factor must be in (0, 1), got {self.scale_factor}")
        if not self.alpha > 0 or not self.inpaint_alpha > 0:
            raise ValueError("alpha and inpaint_alpha must be positive")
        if self.noise_std < 0:
            raise ValueError(f"noise_std must be >= 0, got {self.noise_std}")


PRESETS: dict[str, GPNNConfig] = {
    "paper": GPNNConfig(),
    # half the noise (0.75 on [-1, 1], Efficient-GPNN's amount): samples closer to the image
    "low_variance": GPNNConfig(noise_std=0.75),
    # 3 iterations per level instead of 10: about 3x quicker samples
    "fast": GPNNConfig(iters=3),
}
