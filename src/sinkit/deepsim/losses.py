"""DeepSIM's losses, exactly pix2pixHD's (official ``models/pix2pixHD_model.py``, ``models/networks.py``).

- LSGAN (Mao et al. 2017): ``mean (D(x) - 1)^2`` for real targets, ``mean D(x)^2`` for fake,
  summed over the discriminators (``GANLoss`` with ``use_lsgan=True``);
- discriminator feature matching: ``sum_d sum_l  (4 / (n_layers + 1)) (1 / num_d) L1(D_d,l(fake), D_d,l(real))``
  over every intermediate layer, times ``lambda_feat`` (10);
- VGG19 perceptual loss: ``sum_i w_i L1(VGG_i(fake), VGG_i(real))`` at relu1_1, relu2_1,
  relu3_1, relu4_1, relu5_1 with ``w = 1/32, 1/16, 1/8, 1/4, 1`` (``VGGLoss``), times 10.

The VGG19 ImageNet weights are torchvision's ``vgg19-dcbb9e9d.pth`` (the core's ``"vgg19"``
weight file, shared with PetsGAN), found like the
metric weights (:mod:`sinkit.core.weights`: explicit path, ``SINKIT_VGG19_WEIGHTS``,
``SINKIT_WEIGHTS_DIR``, torch hub's cache, download when online).  As in pix2pixHD the
``[-1, 1]`` images go into VGG without ImageNet normalisation.
"""

from __future__ import annotations

import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..core.weights import WeightsUnavailable, load_weights

__all__ = [
    "VGG19Features",
    "VGGLoss",
    "load_vgg19",
    "lsgan_loss",
    "feature_matching_loss",
    "WeightsUnavailable",
]

# torchvision vgg19 ``features``: "M" = 2x2 max-pool; numbers = 3x3 conv widths (each followed by ReLU)
_VGG19_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512)
#: pix2pixHD's slices end after these indices of ``features``: relu1_1, relu2_1, relu3_1, relu4_1, relu5_1
VGG_TAPS = (1, 6, 11, 20, 29)
VGG_WEIGHTS = (1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0)


class VGG19Features(nn.Module):
    """torchvision's VGG19 ``features`` up to relu5_1 (indices 0-29), same module names.

    ``load_state_dict`` accepts the ``features.*`` tensors of ``vgg19-dcbb9e9d.pth``.
    Parameters are frozen (the loss never trains VGG).
    """

    def __init__(self):
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = 3
        for item in _VGG19_LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(in_ch, item, 3, padding=1), nn.ReLU(inplace=False)]
                in_ch = item
        self.features = nn.Sequential(*layers[: VGG_TAPS[-1] + 1])
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``(B, 3, H, W)`` -> the five tapped activations (relu1_1 ... relu5_1)."""
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in VGG_TAPS:
                out.append(x)
        return out


def load_vgg19(path: str | os.PathLike | None = None, *, download: bool = True) -> VGG19Features:
    """VGG19 features with torchvision's ImageNet weights, in eval mode.

    Raises:
        WeightsUnavailable: no weight file found (the message says where to put it).
        ValueError: the file is not torchvision's VGG19.
    """
    state = load_weights("vgg19", path, download=download)
    model = VGG19Features()
    own = model.state_dict()
    features = {k: v for k, v in state.items() if k in own}
    missing = sorted(set(own) - set(features))
    if missing:
        raise ValueError(f"not a torchvision VGG19 state dict: missing {missing[:4]}...")
    bad = [k for k in own if tuple(features[k].shape) != tuple(own[k].shape)]
    if bad:
        raise ValueError(f"not a torchvision VGG19 state dict: wrong shapes for {bad[:4]}")
    model.load_state_dict(features, strict=True)
    return model.eval()


class VGGLoss(nn.Module):
    """pix2pixHD ``VGGLoss``: weighted L1 between VGG19 activations of ``fake`` and ``real``.

    Args:
        vgg: a :class:`VGG19Features` (ImageNet weights from :func:`load_vgg19`; tests use random ones).

    Shape:
        ``fake``, ``real``: ``(B, 3, H, W)`` in ``[-1, 1]``; returns a scalar.  ``real``'s
        activations are detached as in the official code.
    """

    def __init__(self, vgg: VGG19Features):
        super().__init__()
        self.vgg = vgg

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        if fake.shape != real.shape:
            raise ValueError(f"fake and real must have the same shape, got {tuple(fake.shape)} and {tuple(real.shape)}")
        loss = fake.new_zeros(())
        for w, a, b in zip(VGG_WEIGHTS, self.vgg(fake), self.vgg(real)):
            loss = loss + w * F.l1_loss(a, b.detach())
        return loss


def lsgan_loss(predictions: list[list[torch.Tensor]], target_is_real: bool) -> torch.Tensor:
    """LSGAN loss summed over discriminators (pix2pixHD ``GANLoss(use_lsgan=True)``).

    Args:
        predictions: :class:`~sinkit.deepsim.networks.MultiscaleDiscriminator` output; the last
            feature map of each discriminator is its patch score map.
        target_is_real: compare to 1 (real) or 0 (fake).
    """
    target = 1.0 if target_is_real else 0.0
    return sum(F.mse_loss(p[-1], torch.full_like(p[-1], target)) for p in predictions)


def feature_matching_loss(fake: list[list[torch.Tensor]], real: list[list[torch.Tensor]], n_layers: int) -> torch.Tensor:
    """pix2pixHD discriminator feature matching (without ``lambda_feat``).

    ``sum_d sum_l (4 / (n_layers + 1)) / num_d * L1(fake_d,l, real_d,l.detach())`` over every
    feature map but the final score map.
    """
    num_d = len(fake)
    feat_weight, d_weight = 4.0 / (n_layers + 1), 1.0 / num_d
    loss = fake[0][0].new_zeros(())
    for fd, rd in zip(fake, real):
        for a, b in zip(fd[:-1], rd[:-1]):
            loss = loss + d_weight * feat_weight * F.l1_loss(a, b.detach())
    return loss
