"""Inception-v3 for FID / SIFID in plain torch, and SIFID (SinGAN, Shaham et al. 2019, sec. 3.2).

The network is the FID variant of torchvision's ``Inception3`` that pytorch-fid
uses with the TensorFlow weights ported to PyTorch
(``pt_inception-2015-12-05-6726825d.pth``): 1008 classes, no auxiliary head,
average pools that exclude padding, and a max pool in the last block's pool
branch.  Module names follow torchvision, so that file (and torchvision's
ImageNet ``inception_v3_google-0cc3c7bd.pth``, with ``variant="torchvision"``)
loads with ``load_state_dict(strict=True)``.

SIFID features, one vector per spatial position (the two layers SinGAN names):

* ``"before_maxpool1"``: output of ``Conv2d_2b_3x3``, 64-d.  What the official
  SinGAN ``SIFID/sifid_score.py`` computes in the version the paper's numbers
  came from (``dims=64``; block 0 of its ``InceptionV3`` ends before the max pool).
* ``"before_maxpool2"``: output of ``Conv2d_4a_3x3``, 192-d.  What the paper text
  describes ("the convolutional layer just before the second pooling layer";
  the later official script uses ``dims=192``; upstream issue #155).

The input is the ``[-1, 1]`` image itself (the official script maps ``[0, 1]``
to ``2x - 1``), at its own size: no resizing.
"""

from __future__ import annotations

import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._checks import check_images
from .frechet import feature_statistics, frechet_distance
from ..core.weights import load_weights

__all__ = ["SIFID_LAYERS", "FEATURE_LAYERS", "FIDInceptionV3", "load_inception", "sifid", "sifid_per_sample"]

#: SIFID layer name -> feature dimension.
SIFID_LAYERS: dict[str, int] = {"before_maxpool1": 64, "before_maxpool2": 192}

#: Every feature layer :meth:`FIDInceptionV3.forward` can return -> channels.
FEATURE_LAYERS: dict[str, int] = {
    **SIFID_LAYERS,
    "pre_aux": 768,  # output of Mixed_6e (pytorch-fid's 768-d block)
    "mixed_7c": 2048,
    "pool3": 2048,  # global average pool: the FID feature, (B, 2048)
    "logits": 1008,
}


class BasicConv2d(nn.Module):
    """Conv (no bias) - BatchNorm (eps 1e-3) - ReLU, as torchvision's ``BasicConv2d``."""

    def __init__(self, cin: int, cout: int, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)), inplace=True)


def _avg_pool(x: torch.Tensor, fid: bool) -> torch.Tensor:
    # The TF graph averages over valid pixels only; torchvision counts the zero padding.
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=not fid)


class InceptionA(nn.Module):
    def __init__(self, cin: int, pool_features: int, fid: bool):
        super().__init__()
        self.fid = fid
        self.branch1x1 = BasicConv2d(cin, 64, 1)
        self.branch5x5_1 = BasicConv2d(cin, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, 1)

    def forward(self, x):
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch5x5_2(self.branch5x5_1(x)),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                self.branch_pool(_avg_pool(x, self.fid)),
            ],
            1,
        )


class InceptionB(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x):
        return torch.cat(
            [
                self.branch3x3(x),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                F.max_pool2d(x, 3, stride=2),
            ],
            1,
        )


class InceptionC(nn.Module):
    def __init__(self, cin: int, c7: int, fid: bool):
        super().__init__()
        self.fid = fid
        self.branch1x1 = BasicConv2d(cin, 192, 1)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x):
        dbl = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            dbl = layer(dbl)
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x))),
                dbl,
                self.branch_pool(_avg_pool(x, self.fid)),
            ],
            1,
        )


class InceptionD(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x):
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionE(nn.Module):
    """``pool``: ``"avg"`` (torchvision; FID excluding padding) or ``"max"`` (FID's last block)."""

    def __init__(self, cin: int, fid: bool, pool: str = "avg"):
        super().__init__()
        self.fid, self.pool = fid, pool
        self.branch1x1 = BasicConv2d(cin, 320, 1)
        self.branch3x3_1 = BasicConv2d(cin, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x):
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        dbl = torch.cat([self.branch3x3dbl_3a(dbl), self.branch3x3dbl_3b(dbl)], 1)
        if self.pool == "max":
            pooled = F.max_pool2d(x, 3, stride=1, padding=1)
        else:
            pooled = _avg_pool(x, self.fid)
        return torch.cat([self.branch1x1(x), b3, dbl, self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    """Inception-v3 returning named feature maps (Szegedy et al. 2016; FID variant of Heusel et al. 2017).

    Args:
        variant: ``"fid"`` (TF FID weights, 1008 classes) or ``"torchvision"``
            (ImageNet weights, 1000 classes, torchvision's pooling).  The two SIFID
            layers come before any pooling difference, so they are the same
            computation in both variants; only the weights differ.

    Example:
        >>> net = FIDInceptionV3().eval()
        >>> feats = net(torch.zeros(1, 3, 299, 299), ["before_maxpool1", "pool3"])
        >>> feats["before_maxpool1"].shape, feats["pool3"].shape
        (torch.Size([1, 64, 147, 147]), torch.Size([1, 2048]))
    """

    def __init__(self, variant: str = "fid"):
        super().__init__()
        if variant not in ("fid", "torchvision"):
            raise ValueError(f"variant must be 'fid' or 'torchvision', got {variant!r}")
        self.variant = variant
        fid = variant == "fid"
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = InceptionA(192, 32, fid)
        self.Mixed_5c = InceptionA(256, 64, fid)
        self.Mixed_5d = InceptionA(288, 64, fid)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, 128, fid)
        self.Mixed_6c = InceptionC(768, 160, fid)
        self.Mixed_6d = InceptionC(768, 160, fid)
        self.Mixed_6e = InceptionC(768, 192, fid)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, fid, "avg")
        self.Mixed_7c = InceptionE(2048, fid, "max" if fid else "avg")
        self.fc = nn.Linear(2048, 1008 if fid else 1000)

    def forward(self, x: torch.Tensor, layers: list[str] | tuple[str, ...] = ("pool3",)) -> dict[str, torch.Tensor]:
        """Feature maps of ``x`` at ``layers`` (names of :data:`FEATURE_LAYERS`).

        Args:
            x: ``(B, 3, H, W)`` in ``[-1, 1]`` (no resizing; the full network needs
                H, W >= 75, the SIFID layers >= 11).

        Returns:
            ``{name: tensor}``; maps are ``(B, C, h, w)``, ``pool3`` is ``(B, 2048)``,
            ``logits`` ``(B, 1000 or 1008)``.  The forward pass stops after the last
            layer asked for.
        """
        check_images(x, "x")
        unknown = set(layers) - set(FEATURE_LAYERS)
        if unknown:
            raise ValueError(f"unknown layer(s) {sorted(unknown)}; known: {', '.join(FEATURE_LAYERS)}")
        order = list(FEATURE_LAYERS)
        last = max(order.index(n) for n in layers)
        out: dict[str, torch.Tensor] = {}

        def keep(name, value):
            if name in layers:
                out[name] = value
            return order.index(name) >= last

        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        if keep("before_maxpool1", x):
            return out
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(F.max_pool2d(x, 3, stride=2)))
        if keep("before_maxpool2", x):
            return out
        x = F.max_pool2d(x, 3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e):
            x = block(x)
        if keep("pre_aux", x):
            return out
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))
        if keep("mixed_7c", x):
            return out
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        if keep("pool3", x):
            return out
        keep("logits", self.fc(x))
        return out


def load_inception(
    weights: str = "fid",
    path: str | os.PathLike | None = None,
    *,
    download: bool = True,
    device: str | torch.device = "cpu",
) -> FIDInceptionV3:
    """The pretrained network, in eval mode, without gradients.

    Args:
        weights: ``"fid"`` (``pt_inception-2015-12-05-6726825d.pth``, the FID
            standard) or ``"torchvision"`` (``inception_v3_google-0cc3c7bd.pth``,
            what the official SinGAN SIFID script loads through torchvision).
        path: explicit weight file (else env var / torch hub cache / download;
            see :mod:`sinkit.core.weights`).

    Raises:
        WeightsUnavailable: the file is missing and cannot be downloaded (the
            message says which file to put where).
        ValueError: the file's tensors do not fit the architecture.
    """
    if weights not in ("fid", "torchvision"):
        raise ValueError(f"weights must be 'fid' or 'torchvision', got {weights!r}")
    state = load_weights(f"inception-{weights}", path, download=download)
    # torchvision's file carries the auxiliary classifier, which no feature here uses.
    state = {k: v for k, v in state.items() if not k.startswith("AuxLogits.")}
    net = FIDInceptionV3(weights)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(f"the {weights} Inception weights do not match the architecture: {err}") from err
    return net.eval().requires_grad_(False).to(device)


def _position_features(model: FIDInceptionV3, image: torch.Tensor, layer: str) -> torch.Tensor:
    f = model(image, [layer])[layer]
    return f.permute(0, 2, 3, 1).reshape(-1, f.shape[1])


@torch.no_grad()
def sifid_per_sample(
    samples: torch.Tensor,
    real: torch.Tensor,
    *,
    layer: str = "before_maxpool2",
    model: FIDInceptionV3 | None = None,
) -> list[float]:
    """SIFID of every sample against the training image (SinGAN sec. 3.2).

    The Fréchet distance between Gaussians fitted to the per-position features
    of ``real`` and of one sample (:func:`~sinkit.metrics.frechet.frechet_distance`,
    float64, unbiased covariance as the official script).

    Args:
        samples: ``(B, 3, H, W)`` in ``[-1, 1]``.
        real: ``(1, 3, H', W')`` in ``[-1, 1]`` (the official protocol uses the
            training image's size for the samples; other sizes are allowed).
        layer: ``"before_maxpool2"`` (192-d, the paper text; the default, as the
            project follows the paper) or ``"before_maxpool1"`` (64-d, the
            official script the reported numbers came from).
        model: a loaded network (default: :func:`load_inception` with the FID weights).

    Returns:
        One SIFID per sample (lower is better; 0 for the training image itself).

    Raises:
        WeightsUnavailable: no model given and the weights are missing.
    """
    check_images(samples, "samples")
    check_images(real, "real")
    if layer not in SIFID_LAYERS:
        raise ValueError(f"layer must be one of {', '.join(SIFID_LAYERS)}, got {layer!r}")
    model = model if model is not None else load_inception(device=samples.device)
    ref = feature_statistics(_position_features(model, real.to(samples.device), layer))
    return [frechet_distance(*feature_statistics(_position_features(model, samples[i : i + 1], layer)), *ref) for i in range(samples.shape[0])]


def sifid(samples: torch.Tensor, real: torch.Tensor, *, layer: str = "before_maxpool2", model: FIDInceptionV3 | None = None) -> float:
    """Mean SIFID over ``samples`` (the number SinGAN's Table 2 reports per image); see :func:`sifid_per_sample`."""
    values = sifid_per_sample(samples, real, layer=layer, model=model)
    return float(sum(values) / len(values))
