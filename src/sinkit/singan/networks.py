"""SinGAN's per-scale generator and discriminator (paper sec. 2.1, fig. 5; official ``models.py``)."""

from __future__ import annotations

import torch
import torch.nn as nn

from .config import SinGANConfig

__all__ = ["BatchStatNorm2d", "ConvBlock", "Generator", "Discriminator", "build_networks", "init_weights", "receptive_field"]


class BatchStatNorm2d(nn.BatchNorm2d):
    """:class:`torch.nn.BatchNorm2d` whose training-mode forward is written in elementary ops.

    Same function, parameters, running-statistics update and state dict as
    BatchNorm2d (``y = (x - mean) / sqrt(var + eps) * weight + bias``, batch
    statistics over ``(B, H, W)``, biased variance for normalising, unbiased for
    the running estimate); statistics are computed in float32 whatever the
    input's dtype, as PyTorch's kernel does.  Why: the critic's gradient penalty
    differentiates through the critic twice, and PyTorch's batch-norm double
    backward (``batchnorm_double_backward``) reduces one dimension at a time (for
    a batch of one, the "sum over the batch" is a full-size copy); autograd of
    ``var_mean`` and one multiply-add is cheaper (measured in docs/singan.md).
    Eval mode calls the native kernel.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        dims = (0, 2, 3)
        xf = x.float() if x.dtype in (torch.bfloat16, torch.float16) else x
        var, mean = torch.var_mean(xf, dims, correction=0, keepdim=True)
        with torch.no_grad():
            n = x.numel() // x.shape[1]
            self.running_mean.lerp_(mean.view(-1), self.momentum)
            self.running_var.lerp_(var.view(-1) * (n / max(n - 1, 1)), self.momentum)
            self.num_batches_tracked += 1
        scale = torch.rsqrt(var + self.eps) * self.weight.view(1, -1, 1, 1)
        shift = self.bias.view(1, -1, 1, 1) - mean * scale
        return (xf * scale + shift).to(x.dtype)


class ConvBlock(nn.Sequential):
    """Conv(k x k, stride 1, no padding) - BatchNorm - LeakyReLU(0.2); ``norm=None``: no normalisation."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, norm: type[nn.BatchNorm2d] | None = nn.BatchNorm2d):
        layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0)]
        if norm is not None:
            layers.append(norm(out_channels))
        super().__init__(*layers, nn.LeakyReLU(0.2, inplace=True))


class _Body(nn.Module):
    def __init__(self, channels: int, num_layers: int, kernel_size: int, out_channels: int, norm: type[nn.BatchNorm2d] | None = nn.BatchNorm2d):
        super().__init__()
        if num_layers < 2:
            raise ValueError(f"num_layers must be >= 2, got {num_layers}")
        self.head = ConvBlock(3, channels, kernel_size, norm)
        self.body = nn.Sequential(*[ConvBlock(channels, channels, kernel_size, norm) for _ in range(num_layers - 2)])
        self.tail = nn.Conv2d(channels, out_channels, kernel_size, stride=1, padding=0)


class Generator(_Body):
    """psi_n: ``num_layers`` unpadded convs, the last one to RGB with tanh; adds the residual.

    ``G_n(z, x_up) = x_up + psi_n(z * sigma_n + x_up)``  (SinGAN eq. 3).  The
    caller builds ``z * sigma_n + x_up`` and pads it by ``num_layers * (k // 2)``
    pixels (5 by default) so the output keeps ``x_up``'s size.

    Args:
        channels: width of every hidden layer (32 / 64 / 128 by scale).
        num_layers: conv layers (official 5: receptive field 11x11).
        kernel_size: conv kernel (official 3).
        norm: normalisation after each hidden conv (paper: batch norm); None: none (ConSinGAN).
    """

    def __init__(self, channels: int, num_layers: int = 5, kernel_size: int = 3, norm: type[nn.BatchNorm2d] | None = nn.BatchNorm2d):
        super().__init__(channels, num_layers, kernel_size, out_channels=3, norm=norm)
        self.tail = nn.Sequential(self.tail, nn.Tanh())

    def forward(self, z_in: torch.Tensor, x_up: torch.Tensor) -> torch.Tensor:
        """
        Args:
            z_in: padded generator input ``(B, 3, h + 2p, w + 2p)``.
            x_up: upsampled previous-scale image ``(B, 3, h, w)`` in ``[-1, 1]``.

        Returns:
            ``(B, 3, h, w)``: ``x_up + psi(z_in)``.
        """
        return x_up + self.tail(self.body(self.head(z_in)))


class Discriminator(_Body):
    """Markovian (patch) critic: same layout as :class:`Generator`, last conv to one channel, no sigmoid.

    Input ``(B, 3, h, w)`` unpadded; output a score map ``(B, 1, h - 2p, w - 2p)``
    whose every value sees an 11x11 patch (official ``WDiscriminator``).  Its
    batch normalisation is :class:`BatchStatNorm2d` (same function, cheaper
    double backward for the gradient penalty); ``norm=None``: none (ConSinGAN).
    """

    def __init__(self, channels: int, num_layers: int = 5, kernel_size: int = 3, norm: type[nn.BatchNorm2d] | None = BatchStatNorm2d):
        super().__init__(channels, num_layers, kernel_size, out_channels=1, norm=norm)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.tail(self.body(self.head(image)))


def build_networks(channels: int, config: SinGANConfig, index: int, size: tuple[int, int]) -> tuple[Generator, Discriminator]:
    """G_n and D_n of scale ``index`` (0 = coarsest), ``size`` px and ``channels`` wide, as ``config`` defines them.

    With batch normalisation (the critic's as :class:`BatchStatNorm2d`) where
    ``config.batch_norm_at(index, size)``, without otherwise.
    """
    plain = not config.batch_norm_at(index, size)
    generator = Generator(channels, config.num_layers, config.kernel_size, norm=None if plain else nn.BatchNorm2d)
    discriminator = Discriminator(channels, config.num_layers, config.kernel_size, norm=None if plain else BatchStatNorm2d)
    return generator, discriminator


def init_weights(module: nn.Module) -> None:
    """Official init: conv weights N(0, 0.02); BatchNorm weight N(1, 0.02), bias 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def receptive_field(num_layers: int = 5, kernel_size: int = 3) -> int:
    """Side of the square patch one output pixel sees: ``num_layers * (k - 1) + 1`` (11 by default)."""
    return num_layers * (kernel_size - 1) + 1
