"""SinIR (Yoo & Chen, ICML 2021): single-image reconstruction with random pixel shuffling."""

from .config import PRESETS, SinIRConfig, sr_config
from .model import SinIR
from .networks import SinIRNet

__all__ = ["PRESETS", "SinIR", "SinIRConfig", "SinIRNet", "sr_config"]
