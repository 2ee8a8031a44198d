"""Fréchet distance between Gaussians fitted to feature sets (FID, SIFID).

``d^2 = ||mu_1 - mu_2||^2 + Tr(C_1 + C_2 - 2 (C_1 C_2)^{1/2})``
(Heusel et al. 2017; the numerically careful form of pytorch-fid / TTUR).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy import linalg

__all__ = ["feature_statistics", "frechet_distance", "frechet_distance_features"]


def feature_statistics(features: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of a feature set, in float64.

    Args:
        features: ``(N, D)`` — N observations (e.g. spatial positions) of D-dim features.

    Returns:
        ``mu`` of shape ``(D,)`` and the unbiased covariance ``sigma`` ``(D, D)``
        (``np.cov(..., rowvar=False)``, as the official SIFID script).

    Raises:
        ValueError: not 2-D, or fewer than 2 observations.
    """
    f = features.detach().cpu().double().numpy() if torch.is_tensor(features) else np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"expected (N >= 2, D) features, got shape {f.shape}")
    return f.mean(axis=0), np.atleast_2d(np.cov(f, rowvar=False))


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), computed in float64.

    The matrix square root is ``scipy.linalg.sqrtm``; when the product is
    (nearly) singular the standard fallback adds ``eps`` to both diagonals
    (pytorch-fid); a tiny imaginary part from round-off is dropped, a large one
    is an error.

    Args:
        mu1, mu2: ``(D,)`` means.
        sigma1, sigma2: ``(D, D)`` covariances.
        eps: diagonal offset for the singular-product fallback.

    Returns:
        The squared Fréchet distance (the FID convention; >= 0 up to round-off).

    Raises:
        ValueError: shapes disagree, or sqrtm has a large imaginary component.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.shape[0],) * 2:
        raise ValueError(f"shape mismatch: mu {mu1.shape} / {mu2.shape}, sigma {s1.shape} / {s2.shape}")
    diff = mu1 - mu2
    with warnings.catch_warnings():
        # SIFID covariances are often rank-deficient (fewer positions than channels);
        # scipy warns, and the finiteness check below decides on the fallback.
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(s1 @ s2)
        if not np.isfinite(covmean).all():
            offset = np.eye(s1.shape[0]) * eps
            covmean = linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"matrix square root has a large imaginary component ({np.abs(covmean.imag).max():.3g})")
        covmean = covmean.real
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def frechet_distance_features(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray, eps: float = 1e-6) -> float:
    """Fréchet distance between Gaussians fitted to two ``(N, D)`` feature sets."""
    return frechet_distance(*feature_statistics(a), *feature_statistics(b), eps=eps)
