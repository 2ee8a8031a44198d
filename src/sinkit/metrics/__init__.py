"""Evaluation metrics for single-image generative models.

Every metric is a function on ``(B, 3, H, W)`` tensors in ``[-1, 1]``:

* SIFID (:func:`sifid`, FID Inception-v3 in plain torch, both SinGAN layers)
  and LPIPS (:func:`lpips`, :func:`lpips_diversity`, AlexNet) need pretrained
  weights (:mod:`sinkit.core.weights` says where to put them);
* pixel diversity, patch sliced Wasserstein and nearest-neighbour patch
  distance need nothing and run everywhere;
* PSNR, RMSE (0-255), SSIM, MS-SSIM for reconstruction and super-resolution.
"""

from .evaluate import (
    FIDELITY_METRICS,
    PAIRED_METRICS,
    SAMPLE_METRICS,
    deep_metric_status,
    evaluate_fidelity,
    evaluate_pair,
    evaluate_samples,
)
from .fidelity import ms_ssim, psnr, rmse, ssim
from .frechet import feature_statistics, frechet_distance, frechet_distance_features
from .inception import SIFID_LAYERS, FIDInceptionV3, load_inception, sifid, sifid_per_sample
from .lpips import LPIPS, lpips, lpips_diversity, load_lpips
from .patches import nn_patch_distance, patch_swd, pixel_diversity, sliced_wasserstein
from ..core.weights import WEIGHTS, WeightsUnavailable, find_weights, load_weights

__all__ = [
    "FIDELITY_METRICS",
    "FIDInceptionV3",
    "LPIPS",
    "PAIRED_METRICS",
    "SAMPLE_METRICS",
    "SIFID_LAYERS",
    "WEIGHTS",
    "WeightsUnavailable",
    "deep_metric_status",
    "evaluate_fidelity",
    "evaluate_pair",
    "evaluate_samples",
    "feature_statistics",
    "find_weights",
    "frechet_distance",
    "frechet_distance_features",
    "load_inception",
    "load_lpips",
    "load_weights",
    "lpips",
    "lpips_diversity",
    "ms_ssim",
    "nn_patch_distance",
    "patch_swd",
    "pixel_diversity",
    "psnr",
    "rmse",
    "sifid",
    "sifid_per_sample",
    "sliced_wasserstein",
    "ssim",
]
