"""LPIPS with the AlexNet backbone (Zhang et al., CVPR 2018), in plain torch.

``d(x, y) = sum_l mean_{h,w} || w_l * (f_l(x) - f_l(y)) ||^2`` where ``f_l`` are
the channel-normalised ReLU outputs of AlexNet's five conv layers and ``w_l``
the learned non-negative 1x1 weights ("lin" layers, LPIPS v0.1).

Weights: torchvision's ImageNet AlexNet (``alexnet-owt-7be5be79.pth``; only the
``features.*`` tensors are used) and LPIPS's ``alex.pth``; found as described in
:mod:`sinkit.core.weights`.  Module names match both files.

PetsGAN and ExSinGAN measure single-image diversity as the mean LPIPS between
generated samples (:func:`lpips_diversity`); DeepSIM as LPIPS to ground truth.
"""

from __future__ import annotations

import itertools
import os

import torch
import torch.nn as nn

from ._checks import check_images, check_same_shape
from ..core.weights import load_weights

__all__ = ["AlexNetFeatures", "LPIPS", "ALEXNET_LAYERS", "load_lpips", "lpips", "lpips_diversity"]

#: LPIPS feature layers -> channels (ReLU outputs of conv1..conv5).
ALEXNET_LAYERS: dict[str, int] = {"relu1": 64, "relu2": 192, "relu3": 384, "relu4": 256, "relu5": 256}
# index of each ReLU inside ``features``
_RELU_INDEX = {"relu1": 1, "relu2": 4, "relu3": 7, "relu4": 9, "relu5": 11}


class AlexNetFeatures(nn.Module):
    """The convolutional part of AlexNet (torchvision layout: ``features.0`` ... ``features.10``)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 11, stride=4, padding=2),
            nn.ReLU(inplace=False),
            nn.MaxPool2d(3, stride=2),
            nn.Conv2d(64, 192, 5, padding=2),
            nn.ReLU(inplace=False),
            nn.MaxPool2d(3, stride=2),
            nn.Conv2d(192, 384, 3, padding=1),
            nn.ReLU(inplace=False),
            nn.Conv2d(384, 256, 3, padding=1),
            nn.ReLU(inplace=False),
            nn.Conv2d(256, 256, 3, padding=1),
            nn.ReLU(inplace=False),
        )

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``(B, 3, H, W)`` (ImageNet-normalised) -> ``{relu1..relu5: (B, C, h, w)}``; needs H, W >= 35."""
        out = {}
        names = {v: k for k, v in _RELU_INDEX.items()}
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in names:
                out[names[i]] = x
        return out


class _Lin(nn.Module):
    """LPIPS's ``NetLinLayer``: dropout then a 1x1 conv to one channel (keys ``model.1.weight``)."""

    def __init__(self, channels: int):
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(channels, 1, 1, bias=False))

    def forward(self, x):
        return self.model(x)


class LPIPS(nn.Module):
    """LPIPS distance network (AlexNet, v0.1).  Call with two ``(B, 3, H, W)`` images in ``[-1, 1]``.

    Example:
        >>> net = LPIPS().eval().requires_grad_(False)   # random weights; use load_lpips() for real ones
        >>> net(torch.zeros(2, 3, 64, 64), torch.zeros(2, 3, 64, 64))
        tensor([0., 0.])
    """

    def __init__(self):
        super().__init__()
        # LPIPS ScalingLayer: the input in [-1, 1] is shifted / scaled to ImageNet statistics.
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1), persistent=False)
        self.net = AlexNetFeatures()
        for i, channels in enumerate(ALEXNET_LAYERS.values()):
            setattr(self, f"lin{i}", _Lin(channels))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """LPIPS distance per image pair, ``(B,)``; 0 for identical images, larger = more different."""
        check_images(x, "x")
        check_images(y, "y")
        check_same_shape(x, y)
        fx = self.net((x - self.shift) / self.scale)
        fy = self.net((y - self.shift) / self.scale)
        total = x.new_zeros(x.shape[0])
        for i, name in enumerate(ALEXNET_LAYERS):
            a, b = _unit_normalise(fx[name]), _unit_normalise(fy[name])
            total = total + getattr(self, f"lin{i}")((a - b) ** 2).mean(dim=(1, 2, 3))
        return total


def _unit_normalise(f: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    return f / (f.pow(2).sum(dim=1, keepdim=True).sqrt() + eps)


def load_lpips(
    alexnet_path: str | os.PathLike | None = None,
    lpips_path: str | os.PathLike | None = None,
    *,
    download: bool = True,
    device: str | torch.device = "cpu",
) -> LPIPS:
    """LPIPS with pretrained AlexNet and v0.1 linear weights, eval mode, no gradients.

    Raises:
        WeightsUnavailable: a file is missing and cannot be downloaded (the message
            says which file to put where).
        ValueError: the tensors do not fit the architecture.
    """
    backbone = load_weights("alexnet", alexnet_path, download=download)
    lins = load_weights("lpips-alex", lpips_path, download=download)
    # torchvision's AlexNet file also holds the classifier, which LPIPS does not use.
    state = {f"net.{k}": v for k, v in backbone.items() if k.startswith("features.")}
    state.update(lins)
    net = LPIPS()
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(f"the LPIPS / AlexNet weights do not match the architecture: {err}") from err
    return net.eval().requires_grad_(False).to(device)


@torch.no_grad()
def lpips(x: torch.Tensor, y: torch.Tensor, *, model: LPIPS | None = None) -> torch.Tensor:
    """LPIPS distance between matching images of ``x`` and ``y`` (both ``(B, 3, H, W)`` in ``[-1, 1]``), shape ``(B,)``.

    Raises:
        WeightsUnavailable: no model given and the weights are missing.
    """
    model = model if model is not None else load_lpips(device=x.device)
    return model(x, y.to(x.device))


@torch.no_grad()
def lpips_diversity(samples: torch.Tensor, *, model: LPIPS | None = None, batch_size: int = 16) -> float:
    """Mean LPIPS over all pairs of samples (the diversity measure of PetsGAN / ExSinGAN); higher = more diverse.

    Args:
        samples: ``(B, 3, H, W)`` in ``[-1, 1]``, B >= 2.

    Raises:
        ValueError: fewer than 2 samples.
        WeightsUnavailable: no model given and the weights are missing.
    """
    check_images(samples, "samples")
    if samples.shape[0] < 2:
        raise ValueError(f"lpips_diversity needs at least 2 samples, got {samples.shape[0]}")
    model = model if model is not None else load_lpips(device=samples.device)
    pairs = list(itertools.combinations(range(samples.shape[0]), 2))
    total = 0.0
    for k in range(0, len(pairs), batch_size):
        i, j = zip(*pairs[k : k + batch_size])
        total += float(model(samples[list(i)], samples[list(j)]).sum())
    return total / len(pairs)
