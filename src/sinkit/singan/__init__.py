"""SinGAN (Shaham et al., ICCV 2019)."""

from .config import PRESETS, SinGANConfig
from .model import Scale, SinGAN

__all__ = ["PRESETS", "Scale", "SinGAN", "SinGANConfig"]
