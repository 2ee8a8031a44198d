"""SinIR's per-scale network (supplement sec. A, fig. 9; official ``networks/network.py``)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ConvBlock", "SinIRNet"]


class ConvBlock(nn.Sequential):
    """ReflectionPad(1) - Conv 3x3 - InstanceNorm (no affine, no running stats) - LeakyReLU(0.2)."""

    def __init__(self, channels: int):
        super().__init__(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, 1, 0),
            nn.InstanceNorm2d(channels),
            nn.LeakyReLU(0.2),
        )


class SinIRNet(nn.Module):
    """F_n: refines the upsampled coarser output into the image at scale n (paper eq. 1).

    Layout (official)::

        x0 = Conv1x1(C/2 -> C)(Conv1x1(3 -> C/2)(x))          # "from RGB"
        h  = x0;  for each of the 6 blocks: h = block(h) + x0  # residual to the stem output
        y  = tanh(Conv1x1(C/2 -> 3)(Conv1x1(C -> C/2)(h)))     # "to RGB"

    The paper calls the blocks "densely connected with residual operation": the
    official code keeps a list of earlier outputs to add, but only ever holds
    the stem output in it, so every block adds ``x0`` - reproduced here.  No
    pooling: the output has the input's size, any size.

    Args:
        channels: width ``C`` of the blocks (128; 256 for super-resolution).
        num_blocks: number of 3x3 blocks (6).
        image_channels: 3 for RGB.

    Shape:
        input ``(B, 3, H, W)`` in ``[-1, 1]`` -> output ``(B, 3, H, W)`` in ``(-1, 1)``.
    """

    def __init__(self, channels: int = 128, num_blocks: int = 6, image_channels: int = 3):
        super().__init__()
        if channels < 2:
            raise ValueError(f"channels must be >= 2, got {channels}")
        half = channels // 2
        self.from_rgb = nn.Sequential(nn.Conv2d(image_channels, half, 1), nn.Conv2d(half, channels, 1))
        self.blocks = nn.ModuleList(ConvBlock(channels) for _ in range(num_blocks))
        self.to_rgb = nn.Sequential(nn.Conv2d(channels, half, 1), nn.Conv2d(half, image_channels, 1), nn.Tanh())

    @property
    def channels(self) -> int:
        return self.from_rgb[1].out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.from_rgb[0].in_channels:
            raise ValueError(f"expected a (B, {self.from_rgb[0].in_channels}, H, W) tensor, got {tuple(x.shape)}")
        x0 = self.from_rgb(x)
        h = x0
        for block in self.blocks:
            h = block(h) + x0
        return self.to_rgb(h)
