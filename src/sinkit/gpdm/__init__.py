"""GPDM (Elnekave & Weiss, ECCV 2022): single-image generation by matching patch distributions, no training."""

from .config import PRESETS, GPDMConfig
from .model import GPDM

__all__ = ["GPDM", "GPDMConfig", "PRESETS"]
