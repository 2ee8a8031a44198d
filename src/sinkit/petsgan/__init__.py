"""PetsGAN (Zhang et al., AAAI 2022): one jointly trained single-image GAN with external and internal priors."""

from . import weights as _weights  # noqa: F401  (registers the BigGAN-128 file)
from .config import PRESETS, PetsGANConfig
from .data import prepare_images
from .model import PetsGAN
from .priors import PriorSet, build_prior_set
from .training import PHASES, PetsGANTrainer, fit

__all__ = ["PetsGANConfig", "PRESETS", "PetsGAN", "PetsGANTrainer", "PHASES", "PriorSet", "build_prior_set",
           "prepare_images", "fit"]
