"""Every metric at once: what ``sinkit eval`` and ``sinkit bench`` compute.

Deep metrics (SIFID, LPIPS) need pretrained weights; :func:`deep_metric_status`
finds out once whether they can run here and why not, and
:func:`evaluate_samples` silently leaves out the ones that cannot.
"""

from __future__ import annotations

import torch

from .fidelity import ms_ssim, psnr, rmse, ssim
from .patches import nn_patch_distance, patch_swd, pixel_diversity
from ..core.weights import WeightsUnavailable, find_weights

__all__ = ["SAMPLE_METRICS", "FIDELITY_METRICS", "PAIRED_METRICS", "deep_metric_status", "evaluate_samples",
           "evaluate_fidelity", "evaluate_pair"]

#: name -> (description, better).  Names are the columns of results.csv.
SAMPLE_METRICS: dict[str, tuple[str, str]] = {
    "sifid64": ("SIFID, Inception features before the 1st max-pool (64-d; official SinGAN script)", "lower"),
    "sifid192": ("SIFID, Inception features before the 2nd max-pool (192-d; SinGAN paper text)", "lower"),
    "lpips_div": ("LPIPS-AlexNet diversity: mean over sample pairs (PetsGAN / ExSinGAN)", "higher"),
    "diversity": ("pixel diversity: per-pixel std over samples / std of the image (SinGAN Tab. 1)", "higher"),
    "patch_swd": ("multi-scale sliced Wasserstein-1 of 7x7 patches, sample vs image", "lower"),
    "nn_patch": ("mean nearest-neighbour 7x7 patch distance, sample -> image (RMS, [-1,1] scale)", "lower"),
}

#: Reconstruction / SR fidelity (image vs reference).
FIDELITY_METRICS: dict[str, tuple[str, str]] = {
    "psnr": ("PSNR, dB (peak 255)", "higher"),
    "rmse": ("RMSE on the 0-255 scale", "lower"),
    "ssim": ("SSIM (kornia, 11x11 Gaussian window)", "higher"),
    "ms_ssim": ("MS-SSIM (pytorch-msssim)", "higher"),
}

#: A translated image against its ground truth (DeepSIM's video protocol, paper sec. 4.2, Tab. 1-2).
PAIRED_METRICS: dict[str, tuple[str, str]] = {
    "psnr": FIDELITY_METRICS["psnr"],
    "ssim": FIDELITY_METRICS["ssim"],
    "patch_swd": ("multi-scale sliced Wasserstein-1 of 7x7 patches, image vs ground truth", "lower"),
    "nn_patch": ("mean nearest-neighbour 7x7 patch distance, image -> ground truth", "lower"),
    "lpips": ("LPIPS-AlexNet distance to the ground truth (DeepSIM's metric)", "lower"),
    "sifid64": ("SIFID to the ground truth, Inception features before the 1st max-pool (official SinGAN script)", "lower"),
}

_DEEP = {"sifid64": ("inception-fid",), "sifid192": ("inception-fid",), "lpips_div": ("alexnet", "lpips-alex"),
         "lpips": ("alexnet", "lpips-alex")}


def deep_metric_status(*, download: bool = True, inception: str = "fid") -> dict[str, str | None]:
    """For each deep metric: ``None`` when it can run here, else why not (the weight error message).

    Args:
        download: allow one download attempt per missing file.
        inception: ``"fid"`` (TF FID weights, default) or ``"torchvision"`` (the
            ImageNet weights the official SinGAN SIFID script loaded).
    """
    status: dict[str, str | None] = {}
    tried: dict[str, str | None] = {}
    for metric, files in _DEEP.items():
        status[metric] = None
        for name in files:
            if name == "inception-fid" and inception == "torchvision":
                name = "inception-torchvision"
            if name not in tried:
                try:
                    find_weights(name, download=download)
                    tried[name] = None
                except WeightsUnavailable as err:
                    tried[name] = str(err)
            if tried[name] is not None:
                status[metric] = tried[name]
                break
    return status


class _DeepModels:
    """Lazily loaded Inception / LPIPS networks, shared across calls."""

    def __init__(self, inception: str = "fid"):
        self.inception_weights = inception
        self._inception = None
        self._lpips = None

    def inception(self, device):
        from .inception import load_inception

        if self._inception is None:
            self._inception = load_inception(self.inception_weights)
        return self._inception.to(device)

    def lpips(self, device):
        from .lpips import load_lpips

        if self._lpips is None:
            self._lpips = load_lpips()
        return self._lpips.to(device)


def evaluate_samples(
    samples: torch.Tensor,
    real: torch.Tensor,
    *,
    metrics: list[str] | None = None,
    deep_models: _DeepModels | None = None,
) -> dict[str, float]:
    """Score generated samples of one training image.

    Args:
        samples: ``(B, 3, H, W)`` in ``[-1, 1]`` (B >= 2 for the diversity measures).
        real: ``(1, 3, H, W)`` training image in ``[-1, 1]``.
        metrics: names from :data:`SAMPLE_METRICS` (default: all).  Pixel
            diversity is left out when the samples' size differs from the image's.
        deep_models: cache of loaded networks (pass one object across calls).

    Returns:
        ``{metric name: value}``; SIFID is the mean over samples of the
        per-sample SIFID (official protocol), LPIPS diversity the mean over all
        sample pairs.

    Raises:
        WeightsUnavailable: a deep metric was asked for and its weights are missing.
    """
    metrics = list(SAMPLE_METRICS) if metrics is None else metrics
    unknown = set(metrics) - set(SAMPLE_METRICS)
    if unknown:
        raise ValueError(f"unknown metric(s) {sorted(unknown)}; known: {', '.join(SAMPLE_METRICS)}")
    deep_models = deep_models or _DeepModels()
    out: dict[str, float] = {}
    with torch.no_grad():
        for name in metrics:
            if name in ("sifid64", "sifid192"):
                from .inception import sifid

                layer = "before_maxpool1" if name == "sifid64" else "before_maxpool2"
                out[name] = sifid(samples, real, layer=layer, model=deep_models.inception(samples.device))
            elif name == "lpips_div":
                from .lpips import lpips_diversity

                out[name] = lpips_diversity(samples, model=deep_models.lpips(samples.device))
            elif name == "diversity":
                if samples.shape[1:] == real.shape[1:] and samples.shape[0] >= 2:
                    out[name] = pixel_diversity(samples, real)
            elif name == "patch_swd":
                out[name] = patch_swd(samples, real)
            elif name == "nn_patch":
                out[name] = nn_patch_distance(samples, real)
    return out


def evaluate_fidelity(image: torch.Tensor, reference: torch.Tensor) -> dict[str, float]:
    """PSNR, RMSE (0-255), SSIM and MS-SSIM of ``image`` against ``reference`` (both ``(B, 3, H, W)``).

    MS-SSIM is left out for images of 32 px or less on the short side, and when
    pytorch-msssim is not installed.
    """
    out = {"psnr": psnr(image, reference), "rmse": rmse(image, reference), "ssim": ssim(image, reference)}
    try:
        out["ms_ssim"] = ms_ssim(image, reference)
    except (ValueError, ImportError):
        pass
    return out


def evaluate_pair(
    image: torch.Tensor,
    reference: torch.Tensor,
    *,
    metrics: list[str] | None = None,
    deep_models: _DeepModels | None = None,
) -> dict[str, float]:
    """Score one image against its ground truth (paired protocols such as DeepSIM's video frames:
    a frame translated from its primitive against the real frame; Vinker et al. 2021, sec. 4.2).

    Args:
        image: ``(1, 3, H, W)`` in ``[-1, 1]``.
        reference: ``(1, 3, H, W)`` ground truth in ``[-1, 1]``, the same size.
        metrics: names from :data:`PAIRED_METRICS` (default: the weight-free ones; ``lpips`` and
            ``sifid64`` need pretrained weights, see :func:`deep_metric_status`).
        deep_models: cache of loaded networks (pass one object across calls).

    Returns:
        ``{metric name: value}``.

    Raises:
        ValueError: an unknown metric, or images of different sizes.
        WeightsUnavailable: a deep metric was asked for and its weights are missing.
    """
    metrics = [m for m in PAIRED_METRICS if m not in _DEEP] if metrics is None else metrics
    unknown = set(metrics) - set(PAIRED_METRICS)
    if unknown:
        raise ValueError(f"unknown metric(s) {sorted(unknown)}; known: {', '.join(PAIRED_METRICS)}")
    if image.shape != reference.shape:
        raise ValueError(f"image {tuple(image.shape)} and reference {tuple(reference.shape)} differ in size")
    deep_models = deep_models or _DeepModels()
    out: dict[str, float] = {}
    with torch.no_grad():
        for name in metrics:
            if name == "psnr":
                out[name] = psnr(image, reference)
            elif name == "ssim":
                out[name] = ssim(image, reference)
            elif name == "patch_swd":
                out[name] = patch_swd(image, reference)
            elif name == "nn_patch":
                out[name] = nn_patch_distance(image, reference)
            elif name == "lpips":
                from .lpips import lpips

                out[name] = float(lpips(image, reference, model=deep_models.lpips(image.device)).mean())
            elif name == "sifid64":
                from .inception import sifid

                out[name] = sifid(image, reference, layer="before_maxpool1", model=deep_models.inception(image.device))
    return out
