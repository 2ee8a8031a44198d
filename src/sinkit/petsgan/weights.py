"""Pretrained files PetsGAN can use, registered with the core's weight lookup (:mod:`sinkit.core.weights`)."""

from __future__ import annotations

from ..core.weights import WeightFile, register_weights

__all__ = ["VGG19", "BIGGAN128"]

#: torchvision's ImageNet VGG-19; ``features.0`` / ``features.2`` are conv1_1 / conv1_2 (patch transfer init).
VGG19 = register_weights(WeightFile(
    "vgg19",
    "vgg19-dcbb9e9d.pth",
    "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
    "SINKIT_VGG19_WEIGHTS",
    "VGG-19 features (torchvision ImageNet weights; PetsGAN patch transfer conv1)",
))

#: BigGAN-PyTorch's 128 px ImageNet generator (the "138k" G_ema.pth DGP inverts); Google Drive only.
BIGGAN128 = register_weights(WeightFile(
    "biggan-128",
    "biggan-128-G_ema.pth",
    "",
    "SINKIT_BIGGAN_WEIGHTS",
    "BigGAN-128 generator (BigGAN-PyTorch 138k G_ema.pth, as used by DGP; PetsGAN external prior)",
))
