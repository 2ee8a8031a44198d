"""DeepSIM's networks: the pix2pixHD global generator and multi-scale PatchGAN discriminator.

DeepSIM keeps pix2pixHD's architecture unchanged (paper sec. 4, "We implemented
the conditional GAN using the pix2pixHD architecture"); the layouts below follow
the official ``models/networks.py`` (``GlobalGenerator``, ``ResnetBlock``,
``NLayerDiscriminator``, ``MultiscaleDiscriminator``) with its defaults:
InstanceNorm without affine parameters, conv weights N(0, 0.02).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["GlobalGenerator", "ResnetBlock", "NLayerDiscriminator", "MultiscaleDiscriminator", "init_weights"]


def _norm(channels: int) -> nn.Module:
    # pix2pixHD get_norm_layer('instance'): affine=False, no running statistics
    return nn.InstanceNorm2d(channels, affine=False)


def init_weights(module: nn.Module, generator: torch.Generator | None = None) -> None:
    """pix2pixHD ``weights_init``: conv (and transposed conv) weights N(0, 0.02); biases keep torch's init."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            with torch.no_grad():
                m.weight.normal_(0.0, 0.02, generator=generator)


class ResnetBlock(nn.Module):
    """``x + [reflect-pad 1, conv 3x3, IN, ReLU, reflect-pad 1, conv 3x3, IN](x)``."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), _norm(channels), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), _norm(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class GlobalGenerator(nn.Module):
    """pix2pixHD global generator G: primitive -> image.

    reflect-pad 3, conv 7x7 in->ngf, IN, ReLU; ``n_downsample`` x [conv 3x3 stride 2, IN, ReLU]
    doubling the width (64 -> 1024 with the defaults); ``n_blocks`` residual blocks;
    ``n_downsample`` x [transposed conv 3x3 stride 2, IN, ReLU] halving it; reflect-pad 3,
    conv 7x7 ngf->out, tanh.

    Args:
        in_channels: primitive channels (3: primitives are RGB images).
        out_channels: image channels.
        ngf: width of the first layer.
        n_downsample: number of stride-2 convs; input sides must be multiples of ``2 ** n_downsample``.
        n_blocks: residual blocks at the bottleneck.

    Shape:
        ``(B, in_channels, H, W) -> (B, out_channels, H, W)``, output in ``[-1, 1]``.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, ngf: int = 64, n_downsample: int = 4, n_blocks: int = 9):
        super().__init__()
        self.multiple = 2**n_downsample
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7), _norm(ngf), nn.ReLU(True)]
        for i in range(n_downsample):
            c = ngf * 2**i
            layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), _norm(2 * c), nn.ReLU(True)]
        width = ngf * 2**n_downsample
        layers += [ResnetBlock(width) for _ in range(n_blocks)]
        for i in range(n_downsample):
            c = ngf * 2 ** (n_downsample - i)
            layers += [
                nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1), _norm(c // 2), nn.ReLU(True)
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, primitive: torch.Tensor) -> torch.Tensor:
        if primitive.dim() != 4:
            raise ValueError(f"expected a (B, C, H, W) primitive, got shape {tuple(primitive.shape)}")
        h, w = primitive.shape[-2:]
        if h % self.multiple or w % self.multiple:
            raise ValueError(f"primitive sides must be multiples of {self.multiple}, got {h}x{w}")
        return self.model(primitive)


class NLayerDiscriminator(nn.Module):
    """pix2pixHD PatchGAN with intermediate features (``getIntermFeat=True``, needed for feature matching).

    conv 4x4 s2 in->ndf, LeakyReLU 0.2; ``n_layers - 1`` x [conv 4x4 s2, IN, LeakyReLU] doubling the
    width (max 512); conv 4x4 s1, IN, LeakyReLU; conv 4x4 s1 -> 1 (no sigmoid: LSGAN).  Padding 2.

    Returns:
        list of ``n_layers + 2`` feature maps; the last one is the ``(B, 1, h, w)`` patch score map.
    """

    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 3):
        super().__init__()
        kw, pad = 4, math.ceil((4 - 1) / 2)
        blocks: list[nn.Sequential] = [nn.Sequential(nn.Conv2d(in_channels, ndf, kw, 2, pad), nn.LeakyReLU(0.2, True))]
        nf = ndf
        for _ in range(1, n_layers):
            prev, nf = nf, min(nf * 2, 512)
            blocks.append(nn.Sequential(nn.Conv2d(prev, nf, kw, 2, pad), _norm(nf), nn.LeakyReLU(0.2, True)))
        prev, nf = nf, min(nf * 2, 512)
        blocks.append(nn.Sequential(nn.Conv2d(prev, nf, kw, 1, pad), _norm(nf), nn.LeakyReLU(0.2, True)))
        blocks.append(nn.Sequential(nn.Conv2d(nf, 1, kw, 1, pad)))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for block in self.blocks:
            x = block(x)
            features.append(x)
        return features


class MultiscaleDiscriminator(nn.Module):
    """``num_d`` PatchGANs on the input at full, 1/2, 1/4 ... resolution (pix2pixHD).

    The input is ``concat(primitive, image)`` along channels (conditional GAN).  Downsampling
    between scales: 3x3 average pool, stride 2, padding 1, ``count_include_pad=False``.

    Returns:
        one feature list per discriminator, full resolution first.
    """

    def __init__(self, in_channels: int = 6, ndf: int = 64, n_layers: int = 3, num_d: int = 2):
        super().__init__()
        self.discriminators = nn.ModuleList(NLayerDiscriminator(in_channels, ndf, n_layers) for _ in range(num_d))

    def forward(self, primitive: torch.Tensor, image: torch.Tensor) -> list[list[torch.Tensor]]:
        x = torch.cat((primitive, image), dim=1)
        results = []
        for i, d in enumerate(self.discriminators):
            if i > 0:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            results.append(d(x))
        return results
