"""The BigGAN-128 file PetsGAN's external prior can use, registered with the core's weight lookup (:mod:`sinkit.core.weights`;
VGG-19 for the patch-transfer init is in the core table)."""

from __future__ import annotations

from ..core.weights import WeightFile, register_weights

__all__ = ["BIGGAN128"]

#: BigGAN-PyTorch's 128 px ImageNet generator (the "138k" G_ema.pth DGP inverts); Google Drive only.
BIGGAN128 = register_weights(WeightFile(
    "biggan-128",
    "biggan-128-G_ema.pth",
    "",
    "SINKIT_BIGGAN_WEIGHTS",
    "BigGAN-128 generator (BigGAN-PyTorch 138k G_ema.pth, as used by DGP; PetsGAN external prior)",
))
