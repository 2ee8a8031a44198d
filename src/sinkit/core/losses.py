"""Loss terms shared by methods."""

from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["gradient_penalty"]


def gradient_penalty(
    critic: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP penalty ``mean((||grad_x D(x_hat)||_2 - 1)^2)`` (Gulrajani et al. 2017, eq. 3).

    As in SinGAN's official ``calc_gradient_penalty``: one interpolation weight
    per image, ``x_hat = a * real + (1 - a) * fake``, and the gradient norm is
    taken over channels at every pixel (the critic is a patch critic), then
    averaged over pixels.  The caller multiplies by the weight (SinGAN: 0.1).

    Args:
        critic: maps ``(B, C, H, W)`` to a score map.
        real, fake: ``(B, C, H, W)`` tensors of the same shape.
        generator: random source for the interpolation weights.

    Returns:
        Scalar tensor, differentiable w.r.t. the critic's parameters.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake shapes differ: {tuple(real.shape)} vs {tuple(fake.shape)}")
    a = torch.rand(real.shape[0], 1, 1, 1, generator=generator).to(real.device, real.dtype)
    x_hat = (a * real + (1 - a) * fake.detach()).requires_grad_(True)
    scores = critic(x_hat)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    return ((grad.float().norm(2, dim=1) - 1) ** 2).mean()
