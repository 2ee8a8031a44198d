"""Closed-form single-image patch diffusion (Qiu, Kutulakos & Lindell, CVPR 2026): a diffusion sampler whose
denoiser is the exact posterior mean over the image's patches, no training."""

from .config import PRESETS, PatchDiffusionConfig
from .model import PatchDenoiser, PatchDiffusion, flow_linear_schedule

__all__ = ["PatchDiffusion", "PatchDiffusionConfig", "PatchDenoiser", "PRESETS", "flow_linear_schedule"]
