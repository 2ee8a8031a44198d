"""GPNN (Granot et al., "Drop the GAN", CVPR 2022): single-image generation by patch nearest neighbours, no training."""

from .config import PRESETS, GPNNConfig
from .model import GPNN

__all__ = ["GPNN", "GPNNConfig", "PRESETS"]
