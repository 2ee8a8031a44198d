"""The trained PetsGAN: DEPNet (EMA weights) -> patch transfer -> IR network.

Sampling (paper fig. 1, official ``sample``): ``z ~ N(0, 1)`` at the LR size,
``c = G_ema(z)``, ``c' = PT(c)`` (``pt_iters`` rounds at temperature
``pt_tau``), ``x = IR(c')``.  Any output size: the noise is drawn at
``size / factor`` and the positional encoding is extended consistently
(:func:`sinkit.petsgan.networks.positional_encoding`).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .config import PetsGANConfig
from .networks import DEPNet, IRNet, PatchTransfer

__all__ = ["PetsGAN"]


def _as_generator(generator: torch.Generator | int | None) -> torch.Generator | None:
    if isinstance(generator, int):
        return torch.Generator().manual_seed(generator)
    return generator


class PetsGAN(nn.Module):
    """DEPNet + DIPNet, ready to sample.

    Buffers: ``hr`` ``(1, 3, H, W)``, ``lr`` ``(1, 3, H/f, W/f)``, ``fixed_noise``
    ``(1, 1, H/f, W/f)`` (the reconstruction noise of DEPNet's training).

    Args:
        config: hyperparameters.
        hr, lr: the training pair (:func:`sinkit.petsgan.data.prepare_images`).
    """

    def __init__(self, config: PetsGANConfig, hr: torch.Tensor, lr: torch.Tensor):
        super().__init__()
        self.config = config
        h, w = lr.shape[-2:]
        self.depnet = DEPNet(config.dep_channels, config.pos_channels, (h, w), config.pe_extension)
        self.pt = PatchTransfer(config.patch_size)
        stages = config.factor.bit_length() - 1
        self.ir = IRNet(config.ir_channels, stages, norm=config.ir_norm == "in")
        self.register_buffer("hr", hr.detach().clone())
        self.register_buffer("lr", lr.detach().clone())
        self.register_buffer("fixed_noise", torch.zeros(1, 1, h, w))
        self.info: dict = {}

    # ------------------------------------------------------------------ files
    def save(self, directory) -> None:
        """Write ``model.safetensors`` + ``config.json`` (config, sizes, info) to ``directory``."""
        from ..core.checkpoint import save_checkpoint
        from ..core.config import config_to_dict

        save_checkpoint(directory, self.state_dict(), {
            "method": "petsgan", "config": config_to_dict(self.config), "info": self.info,
            "hr_size": list(self.hr.shape[-2:]),
        })

    @classmethod
    def load(cls, directory, device: str | torch.device = "cpu") -> "PetsGAN":
        """Rebuild a saved model (strict state-dict load), in eval mode."""
        from ..core.checkpoint import CheckpointError, load_checkpoint
        from ..core.config import config_from_dict

        tensors, meta = load_checkpoint(directory)
        if meta["method"] != "petsgan":
            raise CheckpointError(f"{directory} holds a {meta['method']} model, not petsgan")
        config = config_from_dict(PetsGANConfig, meta["config"])
        model = cls(config, tensors["hr"], tensors["lr"])
        model.load_state_dict(tensors, strict=True)
        model.info = dict(meta.get("info", {}))
        return model.to(device).eval()

    # ------------------------------------------------------------------ pieces
    @property
    def reference(self) -> torch.Tensor:
        """The patch-transfer reference: LR and its mirror side by side (official ``ref_image``)."""
        return torch.cat([self.lr, self.lr.flip(-1)], dim=-1)

    def transfer(self, lr: torch.Tensor, *, iterations: int | None = None) -> torch.Tensor:
        """Patch transfer of an LR image at the sampling temperature, ``(B, 3, h, w)`` -> same."""
        c = self.config
        out, _ = self.pt(lr, self.reference, tau=c.pt_tau, iterations=c.pt_iters if iterations is None else iterations,
                         hard=c.pt_hard)
        return out

    def dipnet(self, lr: torch.Tensor, *, transfer: bool = True) -> torch.Tensor:
        """DIPNet F: ``(B, 3, h, w)`` LR in ``[-1, 1]`` -> ``(B, 3, h f, w f)`` HR (PT then IR)."""
        return self.ir(self.transfer(lr) if transfer else lr)

    # ------------------------------------------------------------------ sampling
    def lr_size_for(self, size: tuple[int, int] | None) -> tuple[int, int]:
        f = self.config.factor
        if size is None:
            return tuple(self.lr.shape[-2:])
        h, w = int(size[0]), int(size[1])
        if h % f or w % f or h < f or w < f:
            raise ValueError(f"sample size must be positive multiples of {f}, got {(h, w)}")
        return h // f, w // f

    @torch.no_grad()
    def sample_lr(self, num: int, *, size: tuple[int, int] | None = None,
                  generator: torch.Generator | int | None = None) -> torch.Tensor:
        """DEPNet samples ``(num, 3, h, w)`` (before patch transfer)."""
        h, w = self.lr_size_for(size)
        z = torch.randn(num, 1, h, w, generator=_as_generator(generator)).to(self.lr.device)
        return self.depnet(z)

    @torch.no_grad()
    def sample(self, num: int, *, size: tuple[int, int] | None = None, generator: torch.Generator | int | None = None,
               batch_size: int = 4) -> torch.Tensor:
        """Random samples ``(num, 3, H, W)`` in ``[-1, 1]``.

        Args:
            num: how many.
            size: output ``(H, W)``, multiples of ``factor`` (default: the training HR size).
            generator: seed or generator of the noise (same seed, same samples).
            batch_size: samples computed at once (memory).
        """
        gen = _as_generator(generator)
        lr = self.sample_lr(num, size=size, generator=gen)
        return torch.cat([self.dipnet(lr[i : i + batch_size]) for i in range(0, num, batch_size)])

    @torch.no_grad()
    def reconstruct(self) -> torch.Tensor:
        """``F(G_ema(z_fixed))``: the sample of the reconstruction noise, ``(1, 3, H, W)``."""
        return self.dipnet(self.depnet(self.fixed_noise))

    @torch.no_grad()
    def restore(self, lr: torch.Tensor | None = None) -> torch.Tensor:
        """``IR(LR)``: DIPNet's reconstruction of the training image (no patch transfer)."""
        return self.ir(self.lr if lr is None else lr)
