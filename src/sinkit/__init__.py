"""sinkit: generative models trained on a single image.

Quick start::

    import sinkit
    model = sinkit.SinGAN.train("photo.jpg", "fast", out_dir="runs/photo")
    samples = sinkit.load("runs/photo").sample(8, generator=0)   # (8, 3, H, W) in [-1, 1]
    sinkit.save_grid(samples, "samples.png")
"""

__version__ = "0.1.0"

from .core.checkpoint import CheckpointError
from .core.io import ImageReadError, load_image, load_mask, save_grid, save_image
from .core.pyramid import PyramidSpec, build_pyramid, singan_pyramid
from .core.registry import available_methods, get_method, load
from .core.resize import resize
from .singan import SinGAN, SinGANConfig
from .sinir import SinIR, SinIRConfig

__all__ = [
    "__version__",
    "CheckpointError",
    "ImageReadError",
    "PyramidSpec",
    "SinGAN",
    "SinGANConfig",
    "SinIR",
    "SinIRConfig",
    "available_methods",
    "build_pyramid",
    "get_method",
    "load",
    "load_image",
    "load_mask",
    "resize",
    "save_grid",
    "save_image",
    "singan_pyramid",
]
