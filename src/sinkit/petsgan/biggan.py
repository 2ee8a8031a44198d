"""A plain-torch BigGAN-128 generator whose state dict matches the public pretrained file.

The file is BigGAN-PyTorch's (Brock et al.; ajbrock/BigGAN-PyTorch) 128 px
ImageNet generator ``G_ema.pth`` (the "138k" checkpoint), the one DGP (Pan et
al. 2020) inverts and PetsGAN's ``BigGAN/inversion.py`` loads.  Its layout:
``G_ch = 96``, ``dim_z = 120`` split into 6 chunks of 20 (hierarchical
latents), a shared 128-d class embedding, class-conditional BatchNorm whose
gain/bias are spectrally normalised linear maps, self-attention at 64 px, and
spectral norm (one power-iteration vector ``u0`` and stored ``sv0``) on every
conv/linear weight.  Keys: ``shared.weight``, ``linear.{weight,bias,u0,sv0}``,
``blocks.<i>.0.{conv1,conv2,conv_sc}.*``, ``blocks.<i>.0.{bn1,bn2}.{gain,bias}.*``
and ``{stored_mean,stored_var}``, ``blocks.3.1.{theta,phi,g,o}.*`` and
``gamma``, ``output_layer.0.{gain,bias,stored_mean,stored_var}``,
``output_layer.2.*``.

Only inference is implemented (weights are loaded, never trained here);
spectral norm divides each weight by the singular value estimated with one
power iteration from the stored ``u0`` (what BigGAN-PyTorch does in eval mode).
The ``width`` / ``resolution`` arguments build smaller random networks of the
same code path for tests.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["BigGAN", "load_biggan"]


class _SN(nn.Module):
    """Spectral norm bookkeeping shared by the linear and conv layers (BigGAN-PyTorch ``layers.SN``)."""

    def _init_sn(self, outputs: int, eps: float = 1e-6):
        self.register_buffer("u0", torch.randn(1, outputs))
        self.register_buffer("sv0", torch.ones(1))
        self.sn_eps = eps

    def sn_weight(self) -> torch.Tensor:
        w = self.weight.view(self.weight.shape[0], -1)
        with torch.no_grad():
            v = F.normalize(self.u0 @ w, eps=self.sn_eps)
            u = F.normalize(v @ w.t(), eps=self.sn_eps)
        sv = ((v @ w.t()) @ u.t()).squeeze()
        return self.weight / sv


class SNLinear(_SN):
    def __init__(self, cin: int, cout: int, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin) * 0.02)
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self._init_sn(cout)

    def forward(self, x):
        return F.linear(x, self.sn_weight(), self.bias)


class SNConv2d(_SN):
    def __init__(self, cin: int, cout: int, k: int = 3, padding: int = 1, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k) * 0.02)
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.padding = padding
        self._init_sn(cout)

    def forward(self, x):
        return F.conv2d(x, self.sn_weight(), self.bias, padding=self.padding)


class CCBN(nn.Module):
    """Class-conditional BatchNorm: ``bn(x) * (1 + gain(y)) + bias(y)`` with stored statistics."""

    def __init__(self, channels: int, cond: int, eps: float = 1e-5):
        super().__init__()
        self.gain = SNLinear(cond, channels, bias=False)
        self.bias = SNLinear(cond, channels, bias=False)
        self.register_buffer("stored_mean", torch.zeros(channels))
        self.register_buffer("stored_var", torch.ones(channels))
        self.eps = eps

    def forward(self, x, y):
        gain = (1 + self.gain(y)).view(y.shape[0], -1, 1, 1)
        bias = self.bias(y).view(y.shape[0], -1, 1, 1)
        out = F.batch_norm(x, self.stored_mean, self.stored_var, None, None, False, 0.1, self.eps)
        return out * gain + bias


class BN(nn.Module):
    """Unconditional BatchNorm of the output layer (``gain``, ``bias`` parameters)."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("stored_mean", torch.zeros(channels))
        self.register_buffer("stored_var", torch.ones(channels))
        self.eps = eps

    def forward(self, x):
        out = F.batch_norm(x, self.stored_mean, self.stored_var, None, None, False, 0.1, self.eps)
        return out * self.gain.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class GBlock(nn.Module):
    def __init__(self, cin: int, cout: int, cond: int):
        super().__init__()
        self.bn1 = CCBN(cin, cond)
        self.conv1 = SNConv2d(cin, cout)
        self.bn2 = CCBN(cout, cond)
        self.conv2 = SNConv2d(cout, cout)
        self.conv_sc = SNConv2d(cin, cout, 1, 0)

    def forward(self, x, y):
        h = F.relu(self.bn1(x, y))
        h = F.interpolate(h, scale_factor=2.0, mode="nearest")
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h), y)))
        return h + self.conv_sc(x)


class Attention(nn.Module):
    """SAGAN self-attention block (BigGAN-PyTorch ``layers.Attention``)."""

    def __init__(self, ch: int):
        super().__init__()
        self.ch = ch
        self.theta = SNConv2d(ch, ch // 8, 1, 0, bias=False)
        self.phi = SNConv2d(ch, ch // 8, 1, 0, bias=False)
        self.g = SNConv2d(ch, ch // 2, 1, 0, bias=False)
        self.o = SNConv2d(ch // 2, ch, 1, 0, bias=False)
        self.gamma = nn.Parameter(torch.tensor(0.0))

    def forward(self, x, y=None):
        b, c, h, w = x.shape
        theta = self.theta(x).view(b, c // 8, h * w)
        phi = F.max_pool2d(self.phi(x), 2).view(b, c // 8, h * w // 4)
        g = F.max_pool2d(self.g(x), 2).view(b, c // 2, h * w // 4)
        beta = torch.softmax(theta.transpose(1, 2) @ phi, -1)
        o = self.o((g @ beta.transpose(1, 2)).view(b, c // 2, h, w))
        return self.gamma * o + x


class BigGAN(nn.Module):
    """BigGAN generator ``G(z, class) -> (B, 3, R, R)`` in ``[-1, 1]`` (R = ``resolution``).

    Args:
        width: ``G_ch`` (pretrained: 96).
        resolution: 128 (pretrained) or a smaller power of two >= 32 for tests.
        dim_z: latent size (pretrained: 120), split into ``blocks + 1`` chunks.
        shared_dim: class embedding size (pretrained: 128).
        classes: number of classes (ImageNet: 1000).
    """

    def __init__(self, width: int = 96, resolution: int = 128, dim_z: int = 120, shared_dim: int = 128,
                 classes: int = 1000):
        super().__init__()
        mults = {128: [16, 16, 8, 4, 2, 1], 64: [16, 16, 8, 4, 2], 32: [4, 4, 4, 4]}[resolution]
        nblocks = len(mults) - 1
        self.chunk = dim_z // (nblocks + 1)
        self.dim_z = self.chunk * (nblocks + 1)
        self.classes = classes
        cond = shared_dim + self.chunk
        self.shared = nn.Embedding(classes, shared_dim)
        self.linear = SNLinear(self.chunk, mults[0] * width * 16)
        self.start = mults[0] * width
        blocks = []
        for i in range(nblocks):
            cin, cout = mults[i] * width, mults[i + 1] * width
            layer = nn.ModuleList([GBlock(cin, cout, cond)])
            if 4 * 2 ** (i + 1) == 64:  # BigGAN-PyTorch: attention after the block reaching 64 px
                layer.append(Attention(cout))
            blocks.append(layer)
        self.blocks = nn.ModuleList(blocks)
        last = mults[-1] * width
        self.output_layer = nn.Sequential(BN(last), nn.ReLU(), SNConv2d(last, 3))

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``z``: ``(B, dim_z)``; ``y``: ``(B,)`` class indices or ``(B, shared_dim)`` embeddings."""
        if z.dim() != 2 or z.shape[1] != self.dim_z:
            raise ValueError(f"expected z of shape (B, {self.dim_z}), got {tuple(z.shape)}")
        emb = self.shared(y) if y.dim() == 1 else y
        zs = torch.split(z, self.chunk, dim=1)
        h = self.linear(zs[0]).view(z.shape[0], self.start, 4, 4)
        for layer, zc in zip(self.blocks, zs[1:]):
            cond = torch.cat([emb, zc], 1)
            for block in layer:
                h = block(h, cond)
        return torch.tanh(self.output_layer(h))


def load_biggan(path: str | None = None, *, download: bool = True, **arch) -> BigGAN:
    """The pretrained BigGAN-128 (strict state-dict load), in eval mode.

    Looked up like every weight file (:func:`sinkit.core.weights.find_weights`,
    key ``"biggan-128"``): ``path``, ``SINKIT_BIGGAN_WEIGHTS``,
    ``$SINKIT_WEIGHTS_DIR/biggan-128-G_ema.pth``, torch hub's checkpoint folder.

    ``arch`` (``width``, ``resolution``, ...) builds another size of the same
    network (tests load small random files through the same code).

    Raises:
        WeightsUnavailable: no file (the message says where to put it).
        ValueError: the file is not a BigGAN-128 ``G_ema`` state dict.
    """
    from ..core.weights import WeightsUnavailable, load_weights

    try:
        state = load_weights("biggan-128", path, download=download)
    except WeightsUnavailable as err:
        raise WeightsUnavailable(
            f"{err}\n  The file is G_ema.pth of the 128 px ImageNet BigGAN (BigGAN-PyTorch's '138k' checkpoint, also "
            f"DGP's pretrained/G_ema.pth), renamed biggan-128-G_ema.pth.\n  Without it, train with --prior-images "
            f"FOLDER (any images) or prior 'augment' (augmentations of the image; no external prior)."
        ) from None
    model = BigGAN(**arch)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(f"not a BigGAN-128 G_ema state dict: {str(err).splitlines()[0]}") from err
    return model.eval()
