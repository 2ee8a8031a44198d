"""Training DeepSIM on one (image, primitive) pair: pix2pixHD's loop with a new warp every iteration.

Per iteration (official ``train.py`` + ``pix2pixHD_model.py``, batch 1):

1. draw one augmentation and apply it to primitive and image (:mod:`.augment`);
2. ``fake = G(primitive)``; D losses on ``(primitive, fake.detach())`` and ``(primitive, image)``;
   G loss = LSGAN(D(primitive, fake), real) + 10 feature matching + 10 VGG19;
3. Adam step of G, then of D (lr 2e-4, betas (0.5, 0.999)); the learning rate is constant
   for ``niter`` iterations (phase ``constant``), then decays linearly to 0 over
   ``niter_decay`` (phase ``decay``).

The loop runs in the core's per-iteration driver (:func:`sinkit.core.training.train_iterations`):
checkpoints every ``checkpoint_every`` iterations and every 5 minutes hold the model and the
training state (discriminators, both Adam states, the augmentation generator), so that
``resume=True`` continues bit-identically; ``progress.png`` in the run directory shows the
current translation at every checkpoint.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable

import torch

from ..core.config import replace_config, resolve_config
from ..core.device import resolve_device
from ..core.io import load_image, save_grid
from ..core.resize import resize
from ..core.training import Phase, start_run, train_iterations
from .augment import apply_params, sample_params
from .config import DeepSIMConfig
from .losses import VGGLoss, WeightsUnavailable, feature_matching_loss, load_vgg19, lsgan_loss
from .model import DeepSIM, working_size
from .networks import MultiscaleDiscriminator, init_weights
from .primitives import (
    binarize_edges,
    canny_edges,
    check_not_blank,
    compose_primitive,
    edges_primitive,
    resize_primitive,
    seg_palette,
    split_primitive,
)

__all__ = ["train", "prepare_pair", "learning_rate"]


def learning_rate(iteration: int, config: DeepSIMConfig) -> float:
    """LR of 0-based ``iteration``: official ``update_learning_rate`` (lr -= lr / niter_decay after each
    iteration past ``niter``): ``lr * (1 - max(0, i - niter) / niter_decay)``."""
    if config.niter_decay == 0 or iteration < config.niter:
        return config.lr
    return config.lr * max(0.0, 1.0 - (iteration - config.niter) / config.niter_decay)


def _as_image(x: torch.Tensor | str | os.PathLike, name: str) -> torch.Tensor:
    if isinstance(x, (str, os.PathLike)):
        return load_image(x)
    if not torch.is_tensor(x) or x.dim() != 4 or x.shape[0] != 1 or x.shape[1] != 3:
        shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
        raise ValueError(f"expected the {name} as a file or a (1, 3, H, W) tensor, got {shape}")
    return x.float()


def prepare_pair(
    image: torch.Tensor | str | os.PathLike,
    primitive: torch.Tensor | str | os.PathLike,
    config: DeepSIMConfig,
) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int], list[str]]:
    """Check the training pair and bring it to the working size.

    A primitive of another size than the image is resized to it (with a note); edge
    primitives are binarised; a ``seg_edges`` model given a bare segmentation (no pixel of
    the edge colour) gets Canny edges of the image (sigma ``config.canny_sigma``) drawn over
    it, as the official data loader does.

    Returns:
        ``(image, primitive, original (H, W), notes)`` at the working size.

    Raises:
        PrimitiveError: blank image or primitive.
    """
    image, primitive = _as_image(image, "image"), _as_image(primitive, "primitive")
    kind, cc = config.primitive_kind, config.canny_color
    check_not_blank(image, "training image")
    check_not_blank(primitive)
    notes = []
    h, w = image.shape[-2:]
    if primitive.shape[-2:] != image.shape[-2:]:
        ph, pw = primitive.shape[-2:]
        primitive = resize_primitive(primitive, "seg" if kind == "seg_edges" else kind, (h, w), cc)
        notes.append(f"primitive resized from {ph}x{pw} to the image's {h}x{w}")
    if kind == "edges":
        primitive = edges_primitive(binarize_edges(primitive, cc), cc)
    if kind == "seg_edges":
        _, edges = split_primitive(primitive, kind, cc)
        if edges.sum() == 0:
            primitive = compose_primitive(primitive, canny_edges(image, config.canny_sigma), cc)
            notes.append(f"no edges in the seg_edges primitive: drew Canny edges (sigma {config.canny_sigma}) of the image over it")
    size = working_size(h, w, config)
    if size != (h, w):
        image = resize(image, size)
        primitive = resize_primitive(primitive, kind, size, cc)
        notes.append(f"pair resized from {h}x{w} to {size[0]}x{size[1]}")
    return image, primitive, (int(h), int(w)), notes


def _vgg_loss(config: DeepSIMConfig, weights: str | os.PathLike | None, device, log) -> tuple[VGGLoss | None, str]:
    if config.vgg_loss == "off":
        return None, "off (config)"
    try:
        vgg = load_vgg19(weights).to(device)
    except WeightsUnavailable as err:
        if config.vgg_loss == "require":
            raise
        first = str(err).splitlines()[0]
        log(f"note: VGG19 perceptual loss switched off: {first} (vgg_loss='require' makes this an error)")
        return None, f"off (weights missing: {first})"
    return VGGLoss(vgg), "on"


def _build(config: DeepSIMConfig, inputs: dict[str, torch.Tensor], palette, original, notes) -> tuple[DeepSIM, MultiscaleDiscriminator]:
    """Fresh generator and discriminators, initialised from ``config.seed`` alone (pix2pixHD init)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)  # torch's default bias init, without touching the caller's RNG
        model = DeepSIM(config, inputs, {"notes": notes}, palette=palette, original_size=original)
        init_weights(model.generator, torch.Generator().manual_seed(config.seed))
        discriminator = MultiscaleDiscriminator(6, config.ndf, config.n_layers_d, config.num_d)
        init_weights(discriminator, torch.Generator().manual_seed(config.seed * 2 + 1))
    return model, discriminator


def train(
    image: torch.Tensor | str | os.PathLike,
    primitive: torch.Tensor | str | os.PathLike,
    config: DeepSIMConfig | str = "fast",
    *,
    out_dir: str | os.PathLike | None = None,
    resume: bool = False,
    device: str | torch.device = "cpu",
    stop_after: int | None = None,
    vgg_weights: str | os.PathLike | None = None,
    checkpoint_seconds: float = 300.0,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    **overrides: Any,
) -> DeepSIM:
    """Train DeepSIM on one pair.

    Args:
        image: the training image (file or ``(1, 3, H, W)`` tensor in [-1, 1]).
        primitive: its primitive, of ``config.primitive_kind`` (file or tensor).
        config: a :class:`DeepSIMConfig` or a preset name (``"paper"``, ``"fast"``).
        out_dir: run directory (checkpoint with training state while unfinished, ``progress.png``);
            None keeps everything in memory.
        resume: continue the run saved in ``out_dir`` (same config and pair), bit-identically.
        device: ``"cpu"``, ``"cuda"``, ``"auto"``...
        stop_after: stop (and checkpoint) after this many iterations in total (tests, budgets).
        vgg_weights: path of torchvision's ``vgg19-dcbb9e9d.pth`` (else found as in
            :mod:`sinkit.core.weights`: ``SINKIT_VGG19_WEIGHTS``, ``SINKIT_WEIGHTS_DIR``, torch hub).
        checkpoint_seconds: also checkpoint when this much time passed since the last one.
        progress: progress bars on stderr.
        log: where notes go (default: stderr).
        **overrides: config fields to change, e.g. ``primitive_kind="seg"`` (None values ignored).

    Returns:
        The trained :class:`DeepSIM`; ``info["loss_terms"]`` lists the losses that ran,
        ``info["losses"]`` their values per phase.

    Raises:
        PrimitiveError: blank inputs.
        WeightsUnavailable: ``vgg_loss='require'`` and no VGG19 weights.
        CheckpointError / ValueError: ``resume`` on a directory holding another run.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr))
    config = replace_config(resolve_config(DeepSIM, config), **overrides)
    device = resolve_device(device)
    img, prim, original, notes = prepare_pair(image, primitive, config)
    for note in notes:
        log(f"note: {note}")
    kind, cc = config.primitive_kind, config.canny_color
    palette = seg_palette(prim, kind, cc) if kind in ("seg", "seg_edges") else None
    img, prim = img.to(device), prim.to(device)
    inputs = {"image": img, "primitive": prim}
    fresh, discriminator = _build(config, inputs, palette, original, notes)
    model, saved = start_run(DeepSIM, inputs, config, out_dir=out_dir, resume=resume, device=device, create=lambda: fresh)
    model.to(device)
    discriminator.to(device)

    vgg, vgg_status = _vgg_loss(config, vgg_weights, device, log)
    model.info["loss_terms"] = ["lsgan"] + (["feature_matching"] if config.gan_feat_loss else []) + (["vgg19"] if vgg else [])
    model.info["vgg_loss"] = vgg_status

    betas = (config.beta1, config.beta2)
    opt_g = torch.optim.Adam(model.generator.parameters(), lr=config.lr, betas=betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=config.lr, betas=betas)
    rng = torch.Generator().manual_seed(config.seed)  # every augmentation draw (CPU)

    colors, edges = split_primitive(prim, kind, cc)
    colors_mode = "bilinear" if kind == "manual" else "nearest"
    edge_bank = None
    if config.canny_aug and kind in ("edges", "seg_edges"):
        edge_bank = torch.cat([canny_edges(img, s) for s in config.canny_sigmas]).to(device)
    autocast = dict(device_type=device.type, dtype=torch.bfloat16, enabled=config.bf16)
    zero = torch.zeros((), device=device)
    last: dict[str, torch.Tensor] = {}

    def step(_: int) -> dict[str, float]:
        lr = learning_rate(int(model.info["iteration"]), config)
        for opt in (opt_g, opt_d):
            for group in opt.param_groups:
                group["lr"] = lr
        params = sample_params(config, img.shape[-2], img.shape[-1], rng)
        real, col, edg = apply_params(
            params, img, colors, edges, points_per_dim=config.tps_points_per_dim, colors_mode=colors_mode,
            edge_bank=edge_bank,
        )
        prim_aug = compose_primitive(col, edg, cc)
        with torch.autocast(**autocast):
            fake = model.generator(prim_aug)
            pred_fake_d = discriminator(prim_aug, fake.detach())
            pred_real = discriminator(prim_aug, real)
            pred_fake = discriminator(prim_aug, fake)
            loss_d_fake = lsgan_loss(pred_fake_d, False)
            loss_d_real = lsgan_loss(pred_real, True)
            loss_g_gan = lsgan_loss(pred_fake, True)
            loss_g_feat = feature_matching_loss(pred_fake, pred_real, config.n_layers_d) * config.lambda_feat if config.gan_feat_loss else zero
            loss_g_vgg = vgg(fake.float(), real) * config.lambda_vgg if vgg is not None else zero
        loss_g = (loss_g_gan + loss_g_feat + loss_g_vgg).float()
        loss_d = ((loss_d_fake + loss_d_real) * 0.5).float()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        last.update(primitive=prim_aug.detach(), fake=fake.detach(), real=real.detach())
        return {"g_gan": float(loss_g_gan.detach()), "g_feat": float(loss_g_feat.detach()), "g_vgg": float(loss_g_vgg.detach()),
                "d_real": float(loss_d_real.detach()), "d_fake": float(loss_d_fake.detach()), "lr": lr}

    def get_state():
        return {"discriminator": discriminator.state_dict(), "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
                "rng": rng.get_state()}

    def set_state(state):
        discriminator.load_state_dict(state["discriminator"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        rng.set_state(state["rng"])

    def on_checkpoint(m: DeepSIM, iteration: int) -> None:
        if last:
            _write_progress(Path(out_dir), m, last["primitive"], last["fake"], last["real"])
            m.generator.train()

    phases = [Phase("constant", config.niter, step), Phase("decay", config.niter_decay, step)]
    model.generator.train()
    train_iterations(
        model, [p for p in phases if p.iters > 0], get_state=get_state, set_state=set_state, out_dir=out_dir,
        resume_state=saved, checkpoint_every=config.checkpoint_every, checkpoint_seconds=checkpoint_seconds,
        progress=progress, stop_after=stop_after, on_checkpoint=on_checkpoint if out_dir is not None else None,
    )
    return model.eval()


def _write_progress(out: Path, model: DeepSIM, prim_aug, fake, real) -> None:
    """``progress.png``: an augmented pair, its translation, and the training primitive's translation."""
    rec = model.reconstruction()
    save_grid(
        [prim_aug.float().cpu(), fake.float().clamp(-1, 1).cpu(), real.cpu(), model.primitive.cpu(), rec.cpu(), model.real.cpu()],
        out / "progress.png", ncol=3,
        labels=["augmented primitive", "G(augmented)", "augmented image", "primitive", "G(primitive)", "image"],
    )
