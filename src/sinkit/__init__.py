"""sinkit: generative models trained on a single image.

Quick start::

    import sinkit
    model = sinkit.SinGAN.train("photo.jpg", "fast", out_dir="runs/photo")
    samples = sinkit.load("runs/photo").sample(8, generator=0)   # (8, 3, H, W) in [-1, 1]
    sinkit.save_grid(samples, "samples.png")

Names are imported on first use, so ``import sinkit.core`` (or any one
subpackage) loads no method it does not need.
"""

from __future__ import annotations

import importlib

from .core.registry import declare_methods
from .core.version import __version__

#: Built-in methods: registry name -> the module whose import registers it.  Adding a
#: method to sinkit = one package + one line here (docs/adding-a-method.md).
BUILTIN_METHODS = {
    "singan": "sinkit.singan",
    "sinir": "sinkit.sinir",
    "petsgan": "sinkit.petsgan",
    "gpnn": "sinkit.gpnn",
    "gpdm": "sinkit.gpdm",
    "patch_diffusion": "sinkit.patch_diffusion",
    "deepsim": "sinkit.deepsim",
}
declare_methods(BUILTIN_METHODS)

_LAZY = {
    "CheckpointError": "sinkit.core.checkpoint",
    "CheckpointWriteError": "sinkit.core.checkpoint",
    "SinkitError": "sinkit.core.errors",
    "CapabilityError": "sinkit.core.errors",
    "ImageReadError": "sinkit.core.io",
    "OutputPathError": "sinkit.core.io",
    "LockedError": "sinkit.core.locks",
    "ResourceLimitError": "sinkit.core.resources",
    "RunDirectoryError": "sinkit.core.training",
    "RunExistsError": "sinkit.core.training",
    "load_image": "sinkit.core.io",
    "load_mask": "sinkit.core.io",
    "save_grid": "sinkit.core.io",
    "save_image": "sinkit.core.io",
    "PyramidSpec": "sinkit.core.pyramid",
    "build_pyramid": "sinkit.core.pyramid",
    "singan_pyramid": "sinkit.core.pyramid",
    "available_methods": "sinkit.core.registry",
    "get_method": "sinkit.core.registry",
    "load": "sinkit.core.registry",
    "resize": "sinkit.core.resize",
    "SingleImageModel": "sinkit.core.model",
    "PyramidModel": "sinkit.core.pyramid_model",
    "Sampler": "sinkit.core.capabilities",
    "Translator": "sinkit.core.capabilities",
    "Injectable": "sinkit.core.capabilities",
    "SinGAN": "sinkit.singan",
    "SinGANConfig": "sinkit.singan",
    "SinIR": "sinkit.sinir",
    "SinIRConfig": "sinkit.sinir",
    "PetsGAN": "sinkit.petsgan",
    "PetsGANConfig": "sinkit.petsgan",
    "GPNN": "sinkit.gpnn",
    "GPNNConfig": "sinkit.gpnn",
    "GPDM": "sinkit.gpdm",
    "GPDMConfig": "sinkit.gpdm",
    "PatchDiffusion": "sinkit.patch_diffusion",
    "PatchDiffusionConfig": "sinkit.patch_diffusion",
    "DeepSIM": "sinkit.deepsim",
    "DeepSIMConfig": "sinkit.deepsim",
}

__all__ = ["__version__", "BUILTIN_METHODS", *_LAZY]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sinkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
