"""PetsGAN networks: DEPNet (G), DIPNet (patch transfer + IR network), the discriminators, EMA.

Paper: Zhang et al., "PetsGAN: Rethinking Priors for Single Image Generation",
AAAI 2022, sec. "PetsGAN" (eq. 6-8).  Layer shapes follow the official code
(zhangzc21/PetsGAN ``Models/models.py``, ``Utils/PosEncoding.py``); every
module here is our own code.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import PT_PASTES

__all__ = [
    "positional_encoding",
    "DEPNet",
    "EMA",
    "PatchTransfer",
    "IRNet",
    "MultiScaleDiscriminator",
    "LRDiscriminator",
    "patch_divisor",
]


# ----------------------------------------------------------------------------- positional encoding
def positional_encoding(
    height: int,
    width: int,
    channels: int = 8,
    *,
    train_size: tuple[int, int] | None = None,
    extension: str = "stretch",
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """2-D sinusoidal positional encoding (Xu et al. 2020; official ``SinusoidalPositionalEncoding``).

    Half of the channels encode the column, half the row; within each half,
    channel ``2k`` is ``sin(p * w_k)`` and ``2k + 1`` is ``cos(p * w_k)`` with
    ``w_k = 10000 ** (-2k / (channels / 2))``.  At the training size the
    positions are the pixel indices ``0 .. W-1`` (exactly the official tensor).

    For another size the encoding is extended consistently:

    * ``"stretch"`` (default): the positions still span ``[0, W_train - 1]``,
      spaced ``(W_train - 1) / (W - 1)`` apart (align-corners sampling of the
      same continuous encoding) - a wider sample sees the trained layout
      stretched, never positions the network has not seen.  Every
      ``k``-th column of a size ``k (W_train - 1) + 1`` encoding equals the
      training encoding.
    * ``"continue"``: positions are ``0 .. W-1``; the first ``W_train`` columns
      equal the training encoding and the grid continues beyond it.

    Args:
        height, width: output size, px.
        channels: multiple of 4.
        train_size: ``(H, W)`` the network was trained at (None: this size).
        extension: ``"stretch"`` or ``"continue"``.

    Returns:
        ``(channels, height, width)`` float32 tensor in ``[-1, 1]``.

    Raises:
        ValueError: ``channels`` not a multiple of 4, bad size or extension.
    """
    if channels % 4:
        raise ValueError(f"positional encoding channels must be a multiple of 4, got {channels}")
    if height < 1 or width < 1:
        raise ValueError(f"positional encoding size must be positive, got {(height, width)}")
    if extension not in ("stretch", "continue"):
        raise ValueError(f"extension must be 'stretch' or 'continue', got {extension!r}")
    th, tw = train_size if train_size is not None else (height, width)

    def positions(n: int, n_train: int) -> torch.Tensor:
        idx = torch.arange(n, dtype=torch.float64)
        if extension == "stretch" and n != n_train:
            idx = idx * ((n_train - 1) / (n - 1)) if n > 1 else idx * 0
        return idx

    half = channels // 2
    freq = torch.exp(torch.arange(0.0, half, 2, dtype=torch.float64) * -(math.log(10000.0) / half))
    px = positions(width, tw)[:, None] * freq  # (W, half/2)
    py = positions(height, th)[:, None] * freq  # (H, half/2)
    pe = torch.zeros(channels, height, width, dtype=torch.float64)
    pe[0:half:2] = torch.sin(px).T[:, None, :].expand(-1, height, -1)
    pe[1:half:2] = torch.cos(px).T[:, None, :].expand(-1, height, -1)
    pe[half::2] = torch.sin(py).T[:, :, None].expand(-1, -1, width)
    pe[half + 1 :: 2] = torch.cos(py).T[:, :, None].expand(-1, -1, width)
    return pe.float().to(device)


# ----------------------------------------------------------------------------- DEPNet
class DEPNet(nn.Module):
    """Deep External Prior Network G: noise + positional encoding -> LR image (paper eq. 6).

    Official ``Generator(in_channels=1, mid_channels=64, layers=5, pos_enc='SPE')``:
    the input (1 noise channel + ``pos_channels`` encoding channels) is
    zero-padded by 5 px and passed through five unpadded 3x3 convs
    ``C -> c -> 2c -> 2c -> 2c -> 3``; the 2nd-4th are followed by
    InstanceNorm + ReLU, the last by tanh.  (The official first conv has no
    activation; kept.)  Output size = input size.

    Args:
        channels: ``c`` (official 64).
        pos_channels: encoding channels (official 8).
        train_size: LR ``(H, W)`` the encoding is anchored to.
        extension: how the encoding covers other sizes (:func:`positional_encoding`).
    """

    def __init__(self, channels: int = 64, pos_channels: int = 8, train_size: tuple[int, int] = (32, 32),
                 extension: str = "stretch"):
        super().__init__()
        self.pos_channels = pos_channels
        self.train_size = (int(train_size[0]), int(train_size[1]))
        self.extension = extension
        c = channels
        self.main = nn.Sequential(
            nn.Conv2d(1 + pos_channels, c, 3),
            nn.Conv2d(c, 2 * c, 3), nn.InstanceNorm2d(2 * c), nn.ReLU(True),
            nn.Conv2d(2 * c, 2 * c, 3), nn.InstanceNorm2d(2 * c), nn.ReLU(True),
            nn.Conv2d(2 * c, 2 * c, 3), nn.InstanceNorm2d(2 * c), nn.ReLU(True),
            nn.Conv2d(2 * c, 3, 3), nn.Tanh(),
        )

    def encoding(self, height: int, width: int, device=None) -> torch.Tensor:
        """``(pos_channels, height, width)`` encoding for an output of this size."""
        return positional_encoding(height, width, self.pos_channels, train_size=self.train_size,
                                   extension=self.extension, device=device)

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        """``(B, 1, h, w)`` noise (any size) -> ``(B, 3, h, w)`` image in ``[-1, 1]``."""
        if noise.dim() != 4 or noise.shape[1] != 1:
            raise ValueError(f"expected (B, 1, H, W) noise, got shape {tuple(noise.shape)}")
        b, _, h, w = noise.shape
        pe = self.encoding(h, w, noise.device).to(noise.dtype)
        x = torch.cat([noise, pe.unsqueeze(0).expand(b, -1, -1, -1)], dim=1)
        return self.main(F.pad(x, (5, 5, 5, 5)))


class EMA:
    """Exponential moving average of a module's weights (official ``functions.ema``).

    ``target = decay * target + (1 - decay) * source`` for every parameter after
    each :meth:`update`; buffers are copied.  ``target`` starts as a copy of
    ``source``.

    Args:
        source: the trained module.
        target: the averaged copy (None: a deep copy of ``source`` is made).
        decay: in ``(0, 1)`` (official 0.99).
    """

    def __init__(self, source: nn.Module, target: nn.Module | None = None, decay: float = 0.99):
        if not 0 < decay < 1:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.source = source
        self.target = target if target is not None else copy.deepcopy(source)
        self.decay = decay
        for p in self.target.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self) -> None:
        src = dict(self.source.named_parameters())
        for name, p in self.target.named_parameters():
            p.lerp_(src[name].detach(), 1.0 - self.decay)
        src_b = dict(self.source.named_buffers())
        for name, b in self.target.named_buffers():
            b.copy_(src_b[name])


# ----------------------------------------------------------------------------- patch transfer
def patch_divisor(height: int, width: int, patch_size: int, device=None) -> torch.Tensor:
    """``1 / (number of patches covering each pixel)``, ``(1, 1, H, W)`` (official ``getDivisor``)."""
    fold = dict(kernel_size=patch_size, padding=patch_size // 2)
    ones = torch.ones(1, 1, height, width, device=device)
    count = F.fold(F.unfold(ones, **fold), (height, width), **fold)
    return torch.where(count > 0, 1.0 / count.clamp_min(1e-12), torch.zeros_like(count))


_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class PatchTransfer(nn.Module):
    """Replace every patch of an image by its best match in a reference (paper eq. 7; official ``patch_match``).

    For each ``s x s`` window of the input (zero-padded, stride 1) the cosine
    similarity ``b_ij`` of its conv features to every window of the reference
    is computed, ``a_i = softmax(b_i / tau)``, ``i* = argmax_j a_ij``, the RGB
    window ``j = i*`` of the reference is pasted at ``i`` (weighted by
    ``a_{i,i*}``, or by 1 when ``hard``) and overlapping windows are averaged.
    Repeating it ``iterations`` times re-matches the result (official
    ``lpm_iter``).  The gradient reaches the features through ``a_{i,i*}``.

    ``paste='centre'`` (ours, not in the paper) gives pixel ``i`` the centre
    pixel of window ``i*`` (same weight) instead of averaging the ``s^2``
    windows that cover it: every output pixel is then a reference pixel, not a
    blur of several.  ``paste='median'`` (ours) gives it the per-channel
    median of the ``s^2`` reference pixels those windows would paste there
    (windows centred outside the input and pixels outside the reference left
    out; same weight as ``centre``): the windows' consensus without the mean's
    blur, and an isolated bad match (a dark pixel in a sky, which ``centre``
    keeps) is outvoted.

    The feature extractor is ``conv3x3(3, 64) - ReLU - conv3x3(64, 64) - ReLU``,
    initialised from VGG-19 ``conv1_1`` / ``conv1_2`` when those weights are
    given (:meth:`load_vgg`), random otherwise; :attr:`init` records which.

    Args:
        patch_size: window side ``s`` (paper 7).
        channels: feature width (VGG conv1: 64).
    """

    def __init__(self, patch_size: int = 7, channels: int = 64):
        super().__init__()
        self.patch_size = patch_size
        self.features = nn.Sequential(
            nn.Conv2d(3, channels, 3, 1, 1), nn.ReLU(), nn.Conv2d(channels, channels, 3, 1, 1), nn.ReLU()
        )
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.init = "random"

    def load_vgg(self, state: dict[str, torch.Tensor]) -> None:
        """Copy VGG ``conv1_1`` / ``conv1_2`` (torchvision keys ``features.0.*`` / ``features.2.*``)."""
        convs = (self.features[0], self.features[2])
        for conv, idx in zip(convs, (0, 2)):
            w, b = state[f"features.{idx}.weight"], state[f"features.{idx}.bias"]
            if w.shape != conv.weight.shape:
                raise ValueError(f"VGG features.{idx} has shape {tuple(w.shape)}, expected {tuple(conv.weight.shape)}")
            with torch.no_grad():
                conv.weight.copy_(w)
                conv.bias.copy_(b)
        self.init = "vgg19"

    def _feat(self, x01: torch.Tensor) -> torch.Tensor:
        return self.features((x01 - self.mean) / self.std)

    def forward(
        self,
        x: torch.Tensor,
        ref: torch.Tensor,
        *,
        tau: float = 0.01,
        iterations: int = 1,
        hard: bool = False,
        paste: str = "average",
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Patch-transfer ``x`` onto ``ref``.

        Args:
            x: ``(B, 3, H, W)`` in ``[-1, 1]``.
            ref: ``(1, 3, Hr, Wr)`` in ``[-1, 1]`` (PetsGAN: LR image and its mirror side by side).
            tau: softmax temperature (> 0).
            iterations: >= 1 match-and-paste rounds.
            hard: paste with weight 1 (no gradient to the features).
            paste: ``'average'`` (eq. 7), ``'centre'`` or ``'median'`` (see above).

        Returns:
            ``(out, attention)``: ``(B, 3, H, W)`` in ``[-1, 1]`` and the last
            round's softmax attention ``(B, H*W, Hr*Wr)`` (for the sparsity loss).

        Raises:
            ValueError: bad shapes, ``tau <= 0``, ``iterations < 1`` or an unknown ``paste``.
        """
        if x.dim() != 4 or x.shape[1] != 3 or ref.dim() != 4 or ref.shape[:2] != (1, 3):
            raise ValueError(f"expected x (B, 3, H, W) and ref (1, 3, Hr, Wr), got {tuple(x.shape)} and {tuple(ref.shape)}")
        if tau <= 0 or iterations < 1:
            raise ValueError(f"need tau > 0 and iterations >= 1, got tau={tau}, iterations={iterations}")
        if paste not in PT_PASTES:
            raise ValueError(f"unknown paste {paste!r}; choose from {', '.join(PT_PASTES)}")
        b, _, h, w = x.shape
        fold = dict(kernel_size=self.patch_size, padding=self.patch_size // 2)
        ref01 = (ref + 1) / 2
        if paste == "average":  # the centre paste needs neither the RGB windows nor the overlap count
            ref_rgb = F.unfold(ref01, **fold)  # (1, 3 s s, Lr)
            divisor = patch_divisor(h, w, self.patch_size, x.device).to(x.dtype)
        ref_feat = F.normalize(F.unfold(self._feat(ref01), **fold), dim=1)  # (1, C s s, Lr)
        cur = (x + 1) / 2
        attn = None
        for _ in range(iterations):
            q = F.normalize(F.unfold(self._feat(cur), **fold), dim=1, eps=1e-8)  # (B, C s s, L)
            sim = q.transpose(1, 2) @ ref_feat  # (B, L, Lr) cosine similarities
            attn = torch.softmax(sim / tau, dim=-1)
            values, index = attn.max(dim=-1)  # (B, L)
            weight = torch.ones_like(values) if hard else values
            if paste != "average":  # one reference pixel per output pixel: (B, 3, L)
                if paste == "centre":  # window j of the reference is centred on its pixel j
                    pixels = ref01.flatten(2)[0][:, index].permute(1, 0, 2)
                else:
                    pixels = median_paste(ref01, index, h, w, self.patch_size)
                cur = (pixels * weight.unsqueeze(1)).reshape(b, 3, h, w)
                continue
            patches = ref_rgb[0][:, index]  # (3 s s, B, L)
            patches = patches.permute(1, 0, 2) * weight.unsqueeze(1)
            cur = F.fold(patches, (h, w), **fold) * divisor
        return cur * 2 - 1, attn


def median_paste(ref01: torch.Tensor, index: torch.Tensor, height: int, width: int, patch_size: int) -> torch.Tensor:
    """The median paste of :class:`PatchTransfer` (ours): output pixel ``p`` gets the per-channel median of
    the reference pixels that the ``s x s`` windows covering ``p`` would paste there.

    Window ``q = p + o`` (``o`` in ``[-s//2, s//2]^2``) matched the reference window centred on pixel
    ``r(q)``; it pastes ``r(q) - o`` at ``p``.  Votes of windows centred outside the input, or pointing
    outside the reference, are left out (the window's own vote, ``o = 0``, always counts).

    Args:
        ref01: reference ``(1, 3, Hr, Wr)`` in ``[0, 1]``.
        index: ``(B, H*W)`` index of each input window's best reference window (row-major, ``< Hr*Wr``).
        height, width: the input's ``H``, ``W``.
        patch_size: window side ``s`` (odd).

    Returns:
        ``(B, 3, H*W)``: every channel value one of the reference's.
    """
    hr, wr = ref01.shape[-2:]
    fold = dict(kernel_size=patch_size, padding=patch_size // 2)
    d = torch.arange(-(patch_size // 2), patch_size // 2 + 1, device=index.device)
    oy, ox = d.repeat_interleave(patch_size).view(1, -1, 1), d.repeat(patch_size).view(1, -1, 1)  # unfold's order
    centre = index.view(-1, 1, height, width).float()  # exact below 2**24 reference pixels (no float64 on MPS)
    inside = F.unfold(torch.ones_like(centre[:1]), **fold) > 0.5  # (1, s s, L): window centred in the input
    sy = F.unfold(torch.div(centre, wr, rounding_mode="floor"), **fold).long() - oy  # (B, s s, L)
    sx = F.unfold(torch.remainder(centre, wr), **fold).long() - ox
    valid = inside & (sy >= 0) & (sy < hr) & (sx >= 0) & (sx < wr)
    votes = ref01.flatten(2)[0][:, sy.clamp(0, hr - 1) * wr + sx.clamp(0, wr - 1)]  # (3, B, s s, L)
    return votes.masked_fill(~valid, float("nan")).nanmedian(dim=2).values.permute(1, 0, 2)


def sparsity_loss(attention: torch.Tensor) -> torch.Tensor:
    """Attention sparsity term of paper eq. 8, as ``1 - mean_i ||a_i||_2`` (0 when every row is one-hot).

    Paper: ``-||A||_F^2``; official ``loss_spa``: ``-mean_i ||a_i||_2 + 1`` on the
    rows after the argmax.  We take the row norms of the full softmax rows
    (``||a_i||_2 <= 1``, equality iff one-hot), the paper's quantity per row.
    """
    return 1.0 - attention.float().pow(2).sum(-1).clamp_min(1e-12).sqrt().mean()


# ----------------------------------------------------------------------------- IR network
class _ConvBlock(nn.Sequential):
    """conv - (InstanceNorm) - LeakyReLU(0.2), the official ``ConvBlock``."""

    def __init__(self, cin: int, cout: int, k: int, *, norm: bool, padding_mode: str = "zeros", dilation: int = 1):
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, k, 1, dilation * (k // 2), dilation=dilation, padding_mode=padding_mode)
        ]
        if norm:
            layers.append(nn.InstanceNorm2d(cout))
        layers.append(nn.LeakyReLU(0.2, inplace=True))
        super().__init__(*layers)


class IRNet(nn.Module):
    """Image restoration network: LR -> HR, x ``2 ** stages`` (official ``recnet``, ``no_updown``, ``upmode='conv'``).

    1x1 stem (``3 -> c``, norm, LeakyReLU, ``c -> c``); per stage two 5x5
    blocks (reflect padding) then a 5x5 conv to ``4c`` + PixelShuffle(2); head:
    7x7 convs ``c -> c/2 -> c/2`` + ReLU, 3x3 conv to RGB, tanh.

    Args:
        channels: ``c`` (official 64).
        stages: number of x2 stages (3 for x8).
        norm: InstanceNorm in the blocks (official) or none.
    """

    def __init__(self, channels: int = 64, stages: int = 3, norm: bool = True):
        super().__init__()
        c = channels
        stem: list[nn.Module] = [nn.Conv2d(3, c, 1)]
        if norm:
            stem.append(nn.InstanceNorm2d(c))
        stem += [nn.LeakyReLU(0.01), nn.Conv2d(c, c, 1)]
        self.stem = nn.Sequential(*stem)
        self.stages = nn.ModuleList(
            nn.Sequential(
                _ConvBlock(c, c, 5, norm=norm, padding_mode="reflect"),
                _ConvBlock(c, c, 5, norm=norm, padding_mode="reflect"),
                _ConvBlock(c, 4 * c, 5, norm=norm, padding_mode="replicate"),
                nn.PixelShuffle(2),
            )
            for _ in range(stages)
        )
        self.head = nn.Sequential(
            nn.Conv2d(c, c // 2, 7, 1, 3, padding_mode="replicate"),
            nn.Conv2d(c // 2, c // 2, 7, 1, 3, padding_mode="replicate"),
            nn.ReLU(),
            nn.Conv2d(c // 2, 3, 3, 1, 1),
            nn.Tanh(),
        )
        self.scale = 2**stages

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, h, w)`` in ``[-1, 1]`` -> ``(B, 3, h * 2**stages, w * 2**stages)`` in ``[-1, 1]``."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"expected (B, 3, H, W), got shape {tuple(x.shape)}")
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.head(x)


# ----------------------------------------------------------------------------- discriminators
class MultiScaleDiscriminator(nn.Module):
    """One patch discriminator with a shared head and dilated branches (official ``MS_Discriminator``).

    Head: 3x3 ``3 -> c`` block.  Branch ``i`` (dilation ``i + 1``): three 3x3
    blocks with that dilation and a 3x3 conv to one channel.  The branch maps
    are summed: ``(B, 3, H, W) -> (B, 1, H, W)`` raw scores (hinge loss, no
    gradient penalty).  Replicate padding, InstanceNorm, LeakyReLU 0.2.
    """

    def __init__(self, channels: int = 64, branches: int = 3):
        super().__init__()
        c = channels
        self.head = _ConvBlock(3, c, 3, norm=True, padding_mode="replicate")
        self.branches = nn.ModuleList(
            nn.Sequential(
                *[_ConvBlock(c, c, 3, norm=True, padding_mode="replicate", dilation=i + 1) for _ in range(3)],
                nn.Conv2d(c, 1, 3, 1, 1, padding_mode="replicate"),
            )
            for i in range(branches)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x)
        return sum(branch(h) for branch in self.branches)


class LRDiscriminator(nn.Module):
    """DEPNet's image discriminator D_G (official ``Discriminator``): one score per LR image.

    3x3 ``3 -> c`` block, three stride-2 3x3 blocks doubling the width
    (InstanceNorm, LeakyReLU 0.2, zero padding), flatten, linear -> 1.  The
    linear layer fixes the input size to ``size``.
    """

    def __init__(self, size: tuple[int, int], channels: int = 32):
        super().__init__()
        c = channels
        blocks: list[nn.Module] = [_ConvBlock(3, c, 3, norm=True)]
        for i in range(3):
            blocks.append(
                nn.Sequential(nn.Conv2d(2**i * c, 2 ** (i + 1) * c, 3, 2, 1), nn.InstanceNorm2d(2 ** (i + 1) * c),
                              nn.LeakyReLU(0.2, inplace=True))
            )
        self.blocks = nn.Sequential(*blocks)
        h, w = size
        for _ in range(3):
            h, w = (h + 1) // 2, (w + 1) // 2
        self.size = (int(size[0]), int(size[1]))
        self.linear = nn.Linear(8 * c * h * w, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != self.size:
            raise ValueError(f"LR discriminator built for {self.size}, got {tuple(x.shape[-2:])}")
        return self.linear(self.blocks(x).flatten(1))
