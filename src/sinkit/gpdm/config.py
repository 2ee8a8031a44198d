"""GPDM's settings: the published defaults (Elnekave & Weiss, "Generating natural images with direct
patch distributions matching", ECCV 2022; official code ariel415el/GPDM ``main.py``)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GPDMConfig", "PRESETS"]


@dataclass(frozen=True)
class GPDMConfig:
    """Everything that defines a GPDM model; stored verbatim with the model."""

    # --- pyramid (official main.py: --coarse_dim 21, --pyr_factor 0.85)
    max_size: int | None = 250
    """long side of the finest level, px (the official scripts work at the input's size; 250 is this
    project's Places50 convention); larger images are shrunk, never enlarged"""
    coarsest_size: int = 21
    """short side of the coarsest level, px (official ``coarse_dim``)"""
    scale_factor: float = 0.85
    """nominal ratio between levels (official ``pyr_factor``); recomputed per image so the levels span
    exactly from the image to ``coarsest_size``"""

    # --- patch SWD loss (paper sec. 3; official patch_swd.py)
    patch_size: int = 7
    """patch side, px (official ``--patch_size``)"""
    projections: int = 64
    """random unit directions, redrawn every step (official ``--num_proj``)"""
    pooled_batch: bool = False
    """match the union of a batch's patches to the image (the official batched mode); default: every
    sample matches the image on its own, so a sample does not depend on the batch it was drawn in"""

    # --- optimisation (official main.py / GPDM.generate)
    steps: int = 300
    """Adam steps per level (official ``--num_steps``)"""
    lr: float = 0.01
    """Adam learning rate at the first level (official ``--lr``)"""
    lr_decay: float = 0.9
    """learning rate multiplied by this after every level (official ``generate``: ``lr *= 0.9``)"""

    # --- initial guess (official main.py: --init_from zeros, --noise_sigma 1.5)
    noise_std: float = 1.5
    """std of the Gaussian noise of the initial guess (zeros + noise) at the coarsest level, [-1, 1] scale"""
    seed: int = 0
    """default seed of ``sinkit train``'s preview samples"""

    def __post_init__(self) -> None:
        if self.patch_size < 1 or self.projections < 1 or self.steps < 0:
            raise ValueError("patch_size and projections must be >= 1, steps >= 0")
        if self.coarsest_size < self.patch_size:
            raise ValueError(f"coarsest_size ({self.coarsest_size}) must hold one {self.patch_size}x{self.patch_size} patch")
        if not 0 < self.scale_factor < 1:
            raise ValueError(f"scale_factor must be in (0, 1), got {self.scale_factor}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")


PRESETS: dict[str, GPDMConfig] = {
    "paper": GPDMConfig(),
    # a third of the steps: about 3x faster on a CPU, slightly softer samples
    "fast": GPDMConfig(steps=100),
}
