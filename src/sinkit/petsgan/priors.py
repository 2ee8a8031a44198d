"""DEPNet's external prior set: which LR images DEPNet learns to generate (paper eq. 6).

Three kinds, recorded in the checkpoint and in every results table:

``biggan``
    The paper's: invert the image into the pretrained BigGAN-128 and jitter the
    latent code (DGP, Pan et al. 2020; official ``BigGAN/RunJitter``); needs the
    BigGAN weights (:func:`sinkit.petsgan.biggan.load_biggan`).
``folder``
    Any folder of images (``--prior-images``), each resized to the LR size.
``augment``
    Offline default: thin-plate-spline warps, flips and crops of the image
    (official ``PrepareData.DataTrans``, which the official code mixes into
    every prior set with ``mix_ratio``) - no external knowledge at all, so it is
    the paper's "w/o external prior" ablation rather than PetsGAN proper.

Every kind is completed as in the official ``_prepare_data``: the mirror of
every prior image, ``mix_ratio`` of augmentations of the image, and
``lr_copies`` copies of the LR image and of its mirror.  With
``prior_mirrors=False`` nothing is mirrored (no mirrors, no flipped
augmentations, ``2 * lr_copies`` copies of the LR image): with the ``augment``
prior the mirrors make DEPNet's samples left-right symmetric (docs/petsgan.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..core.io import ImageReadError, load_image
from ..core.resize import resize
from .config import PetsGANConfig

__all__ = ["PriorSet", "tps_warp", "augment", "build_prior_set", "resolve_prior_kind", "invert_and_jitter"]

_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@dataclass
class PriorSet:
    """The LR training set of DEPNet and what it was made of."""

    kind: str
    """``biggan``, ``folder`` or ``augment``"""
    images: torch.Tensor
    """``(N, 3, h, w)`` in ``[-1, 1]`` at the LR size"""
    description: str
    """one line for logs, checkpoints and results tables"""

    def record(self) -> dict:
        return {"kind": self.kind, "count": int(self.images.shape[0]), "description": self.description}


# ----------------------------------------------------------------------------- augmentations
def tps_warp(image: torch.Tensor, generator: torch.Generator, points: int = 4, scale: float = 0.05) -> torch.Tensor:
    """Random thin-plate-spline warp (Bookstein 1989; official ``Utils/tps.py`` ``tps_warp``).

    A ``points x points`` grid of control points over the image is displaced by
    ``U(-scale, scale)`` times the side (the four corners stay fixed) and the
    image is resampled through the TPS interpolating the inverse displacement
    (bilinear, reflection at the border).

    Args:
        image: ``(B, C, H, W)``; every image gets the same warp.
        generator: random source of the displacements.
        points: control points per side (>= 2).
        scale: displacement amplitude as a fraction of the side.

    Returns:
        The warped ``(B, C, H, W)`` image.
    """
    if points < 2:
        raise ValueError(f"TPS needs at least 2 control points per side, got {points}")
    lin = torch.linspace(-1, 1, points, dtype=torch.float64)
    gy, gx = torch.meshgrid(lin, lin, indexing="ij")
    src = torch.stack([gx.flatten(), gy.flatten()], 1)  # (n, 2) as (x, y) in [-1, 1]
    shift = (torch.rand(src.shape, generator=generator, dtype=torch.float64) * 2 - 1) * (2 * scale)
    corner = (src.abs() == 1).all(1)
    dst = src + shift * (~corner).unsqueeze(1)
    # Inverse map: output position (on dst) -> input position (on src).
    n = dst.shape[0]

    def kernel(a, b):
        r2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        return torch.where(r2 > 0, 0.5 * r2 * torch.log(r2.clamp_min(1e-300)), torch.zeros_like(r2))

    p = torch.cat([torch.ones(n, 1, dtype=torch.float64), dst], 1)
    system = torch.zeros(n + 3, n + 3, dtype=torch.float64)
    system[:n, :n] = kernel(dst, dst)
    system[:n, n:] = p
    system[n:, :n] = p.T
    rhs = torch.cat([src, torch.zeros(3, 2, dtype=torch.float64)], 0)
    coeffs = torch.linalg.lstsq(system, rhs).solution
    h, w = image.shape[-2:]
    ys = torch.linspace(-1, 1, h, dtype=torch.float64)
    xs = torch.linspace(-1, 1, w, dtype=torch.float64)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    q = torch.stack([xx.flatten(), yy.flatten()], 1)
    grid = kernel(q, dst) @ coeffs[:n] + torch.cat([torch.ones(q.shape[0], 1, dtype=torch.float64), q], 1) @ coeffs[n:]
    grid = grid.view(1, h, w, 2).to(image.dtype).expand(image.shape[0], -1, -1, -1)
    return F.grid_sample(image, grid.to(image.device), mode="bilinear", padding_mode="reflection", align_corners=True)


def augment(hr: torch.Tensor, lr_size: tuple[int, int], config: PetsGANConfig, generator: torch.Generator) -> torch.Tensor:
    """One random augmentation of the HR image, returned at the LR size.

    As the official ``DataTrans.gen``: the transforms {horizontal flip (p = 0.5),
    TPS warp} are shuffled and the first 1 or 2 applied; then (ours, off in
    ``paper``) a random crop of at least ``crop_min`` of each side, resized back.

    Args:
        hr: ``(1, 3, H, W)`` in ``[-1, 1]``.
        lr_size: output ``(h, w)``.

    Returns:
        ``(1, 3, h, w)`` in ``[-1, 1]``.
    """
    x = hr
    order = torch.randperm(2, generator=generator).tolist()
    count = int(torch.randint(1, 3, (1,), generator=generator))
    for t in order[:count]:
        if t == 0:
            # the draw is made either way, so the prior set's other random numbers do not move
            if float(torch.rand((), generator=generator)) < 0.5 and config.prior_mirrors:
                x = x.flip(-1)
        else:
            x = tps_warp(x, generator, config.tps_points, config.tps_scale)
    if config.crop_min < 1:
        h, w = x.shape[-2:]
        f = config.crop_min + (1 - config.crop_min) * float(torch.rand((), generator=generator))
        ch, cw = max(1, round(h * f)), max(1, round(w * f))
        top = int(torch.randint(0, h - ch + 1, (1,), generator=generator))
        left = int(torch.randint(0, w - cw + 1, (1,), generator=generator))
        x = x[..., top : top + ch, left : left + cw]
    return resize(x, lr_size)


# ----------------------------------------------------------------------------- prior kinds
def resolve_prior_kind(config: PetsGANConfig) -> str:
    """The prior kind that will run: ``auto`` becomes ``folder``, ``biggan`` (weights present) or ``augment``."""
    if config.prior != "auto":
        return config.prior
    if config.prior_images:
        return "folder"
    from ..core.weights import WeightsUnavailable, find_weights

    try:
        find_weights("biggan-128", config.biggan_weights, download=False)
        return "biggan"
    except WeightsUnavailable:
        return "augment"


def _folder_images(folder: str | os.PathLike, lr_size: tuple[int, int]) -> torch.Tensor:
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise ValueError(f"--prior-images: {root} is not a folder")
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in _SUFFIXES)
    if not files:
        raise ValueError(f"--prior-images: no images ({', '.join(_SUFFIXES)}) in {root}")
    out = []
    for f in files:
        try:
            out.append(resize(load_image(f), lr_size))
        except ImageReadError as err:
            raise ValueError(f"--prior-images: {err}") from err
    return torch.cat(out)


def invert_and_jitter(
    hr: torch.Tensor,
    biggan: torch.nn.Module,
    config: PetsGANConfig,
    generator: torch.Generator,
    *,
    progress: bool = False,
) -> torch.Tensor:
    """BigGAN inversion of the image, then latent jitter (DGP as used by PetsGAN; ``RunJitter``).

    The image is resized to BigGAN's square resolution.  The class is
    ``config.biggan_class`` or, when -1, the best of ``biggan_class_candidates``
    random classes after a short fit; the latent ``z`` (and the class
    embedding) is then optimised with Adam on the MSE to the image for
    ``inversion_iters`` steps.  Samples are ``G(z* + std * n, class)`` for every
    ``std`` in ``jitter_stds``, ``jitter_per_std`` each.  DGP also fine-tunes
    the generator with a discriminator-feature loss; we keep the generator
    fixed (see docs/petsgan.md).

    Returns:
        ``(len(jitter_stds) * jitter_per_std, 3, R, R)`` in ``[-1, 1]``.
    """
    res = int(biggan(torch.zeros(1, biggan.dim_z), torch.zeros(1, dtype=torch.long)).shape[-1])
    target = resize(hr, (res, res))
    dev = next(biggan.parameters()).device
    target = target.to(dev)
    for p in biggan.parameters():
        p.requires_grad_(False)

    def fit(cls: int, steps: int) -> tuple[float, torch.Tensor, torch.Tensor]:
        z = (torch.randn(1, biggan.dim_z, generator=generator) * 0.5).to(dev).requires_grad_(True)
        emb = biggan.shared(torch.tensor([cls], device=dev)).detach().clone().requires_grad_(True)
        opt = torch.optim.Adam([z, emb], lr=0.05)
        loss = torch.tensor(0.0)
        for _ in range(steps):
            opt.zero_grad()
            loss = F.mse_loss(biggan(z, emb), target)
            loss.backward()
            opt.step()
        return float(loss.detach()), z.detach(), emb.detach()

    if config.biggan_class >= 0:
        classes = [config.biggan_class]
    else:
        classes = torch.randperm(biggan.classes, generator=generator)[: config.biggan_class_candidates].tolist()
    if len(classes) > 1:
        scores = [fit(c, max(1, config.inversion_iters // 10))[0] for c in classes]
        classes = [classes[min(range(len(scores)), key=scores.__getitem__)]]
    _, z, emb = fit(classes[0], config.inversion_iters)
    out = []
    with torch.no_grad():
        for std in config.jitter_stds:
            for start in range(0, config.jitter_per_std, 50):
                n = min(50, config.jitter_per_std - start)
                noise = torch.randn(n, biggan.dim_z, generator=generator).to(dev)
                out.append(biggan(z + std * noise, emb.expand(n, -1)).cpu())
    return torch.cat(out)


def build_prior_set(
    hr: torch.Tensor,
    lr: torch.Tensor,
    config: PetsGANConfig,
    generator: torch.Generator,
    *,
    biggan: torch.nn.Module | None = None,
) -> PriorSet:
    """DEPNet's training set for ``config.prior`` (see the module docstring).

    Args:
        hr: ``(1, 3, H, W)`` HR image; lr: ``(1, 3, h, w)`` its LR version.
        biggan: a loaded generator (tests pass a small random one); None loads
            the pretrained file when the kind is ``biggan``.

    Raises:
        WeightsUnavailable: ``prior='biggan'`` without the weight file.
        ValueError: ``prior='folder'`` with a missing or empty folder.
    """
    kind = resolve_prior_kind(config)
    size = tuple(lr.shape[-2:])
    hr, lr = hr.cpu(), lr.cpu()
    if kind == "biggan":
        if biggan is None:
            from .biggan import load_biggan

            biggan = load_biggan(config.biggan_weights)
        base = resize(invert_and_jitter(hr, biggan, config, generator), size)
        what = f"BigGAN inversion + jitter (stds {list(config.jitter_stds)}, {base.shape[0]} samples)"
    elif kind == "folder":
        base = _folder_images(config.prior_images, size)
        what = f"{base.shape[0]} images from {Path(config.prior_images).name}/"
    else:
        # augment_count 0: the LR image and its mirror only (the paper's "w/o external prior" ablation;
        # the LR image alone with prior_mirrors=False)
        base = torch.cat([augment(hr, size, config, generator) for _ in range(config.augment_count)] or [lr[:0]])
        moves = "TPS/flip/crop" if config.prior_mirrors else "TPS/crop"
        what = f"{config.augment_count} {moves} augmentations of the image (no external prior)"
    if kind != "augment":
        if config.prior_mirrors:
            base = torch.cat([base, base.flip(-1)])
        extra = int(config.mix_ratio / (1 - config.mix_ratio) * base.shape[0])
        if extra:
            base = torch.cat([base] + [augment(hr, size, config, generator) for _ in range(extra)])
        what += f", + {'mirrors and ' if config.prior_mirrors else ''}{extra} augmentations of the image"
    mirror = lr.flip(-1) if config.prior_mirrors else lr
    copies = torch.cat([lr.expand(config.lr_copies, -1, -1, -1), mirror.expand(config.lr_copies, -1, -1, -1)])
    images = torch.cat([base, copies])
    images = images[torch.randperm(images.shape[0], generator=generator)].contiguous()
    what += (f", + {config.lr_copies} copies of the LR image and of its mirror" if config.prior_mirrors
             else f", + {2 * config.lr_copies} copies of the LR image (no mirrors)")
    return PriorSet(kind, images, what)
