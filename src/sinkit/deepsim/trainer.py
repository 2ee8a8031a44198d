"""Training DeepSIM on one (image, primitive) pair: pix2pixHD's loop with a new warp every iteration.

Per iteration (official ``train.py`` + ``pix2pixHD_model.py``, batch 1):

1. draw one augmentation and apply it to primitive and image (:mod:`.augment`);
2. ``fake = G(primitive)``; D losses on ``(primitive, fake.detach())`` and ``(primitive, image)``;
   G loss = LSGAN(D(primitive, fake), real) + 10 feature matching + 10 VGG19;
3. Adam step of G, then of D (lr 2e-4, betas (0.5, 0.999)); the learning rate is constant
   for ``niter`` iterations, then decays linearly to 0 over ``niter_decay``.

Checkpoints (every ``checkpoint_every`` iterations, every ``checkpoint_seconds`` and at the
end) hold the model (``model.safetensors``, usable at once) and the training state
(``train_state.safetensors``: discriminators, both Adam states, the augmentation RNG, the
iteration), so that ``resume=True`` continues bit-identically.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors.torch import load_file, save_file

from ..core.checkpoint import CheckpointError, _atomic_write
from ..core.config import config_to_dict, replace_config
from ..core.device import resolve_device
from ..core.io import load_image, save_grid
from ..core.resize import resize
from .augment import apply_params, sample_params
from .config import PRESETS, DeepSIMConfig
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

__all__ = ["train", "prepare_pair", "learning_rate", "STATE_FILE"]

STATE_FILE = "train_state.safetensors"


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


class _Run:
    """Everything that changes during training (saved together for an exact resume)."""

    def __init__(self, model: DeepSIM, config: DeepSIMConfig, device: torch.device):
        self.model = model
        self.config = config
        gen = torch.Generator().manual_seed(config.seed * 2 + 1)
        self.discriminator = MultiscaleDiscriminator(6, config.ndf, config.n_layers_d, config.num_d)
        init_weights(self.discriminator, gen)
        self.discriminator.to(device)
        betas = (config.beta1, config.beta2)
        self.opt_g = torch.optim.Adam(model.generator.parameters(), lr=config.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=config.lr, betas=betas)
        self.rng = torch.Generator().manual_seed(config.seed)  # augmentation draws (CPU)
        self.iteration = 0

    def tensors(self) -> dict[str, torch.Tensor]:
        out = {f"discriminator.{k}": v for k, v in self.discriminator.state_dict().items()}
        for name, opt in (("opt_g", self.opt_g), ("opt_d", self.opt_d)):
            for idx, state in opt.state_dict()["state"].items():
                for key, value in state.items():
                    out[f"{name}.{idx}.{key}"] = value if torch.is_tensor(value) else torch.tensor(value)
        out["rng"] = self.rng.get_state()
        return out

    def meta(self) -> dict[str, Any]:
        return {
            "iteration": self.iteration,
            "config": config_to_dict(self.config),
            "param_groups": {n: o.state_dict()["param_groups"] for n, o in (("opt_g", self.opt_g), ("opt_d", self.opt_d))},
        }

    def load(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any], device) -> None:
        self.discriminator.load_state_dict(
            {k[len("discriminator."):]: v for k, v in tensors.items() if k.startswith("discriminator.")}, strict=True
        )
        for name, opt in (("opt_g", self.opt_g), ("opt_d", self.opt_d)):
            state: dict[int, dict[str, torch.Tensor]] = {}
            for k, v in tensors.items():
                if k.startswith(name + "."):
                    _, idx, key = k.split(".", 2)
                    state.setdefault(int(idx), {})[key] = v.to(device) if key != "step" else v
            opt.load_state_dict({"state": state, "param_groups": meta["param_groups"][name]})
        self.rng.set_state(tensors["rng"])
        self.iteration = int(meta["iteration"])

    def save(self, out_dir: Path) -> None:
        self.model.info["iterations"] = self.iteration
        self.model.save(out_dir)
        cpu = {k: v.detach().to("cpu").contiguous() for k, v in self.tensors().items()}
        text = json.dumps(self.meta())
        _atomic_write(out_dir / STATE_FILE, lambda p: save_file(cpu, p, metadata={"sinkit_train_state": text}))


def _read_state(out_dir: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    from safetensors import safe_open

    path = out_dir / STATE_FILE
    try:
        with safe_open(str(path), "pt") as fh:
            meta = json.loads(fh.metadata()["sinkit_train_state"])
        return load_file(str(path)), meta
    except Exception as err:  # truncated file, foreign file
        raise CheckpointError(f"cannot read the training state {path}: {err}") from err


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
        out_dir: checkpoint directory (model + training state + ``progress.png``); None keeps
            everything in memory.
        resume: continue the run saved in ``out_dir`` (same config and pair), bit-identically.
        device: ``"cpu"``, ``"cuda"``, ``"auto"``...
        stop_after: stop (and checkpoint) after this many iterations in total (tests, budgets).
        vgg_weights: path of torchvision's ``vgg19-dcbe5f1e.pth`` (else found as in
            :mod:`sinkit.core.weights`).
        checkpoint_seconds: also checkpoint when this much time passed since the last one.
        progress: tqdm progress bar on stderr.
        log: where notes go (default: stderr).
        **overrides: config fields to change, e.g. ``primitive_kind="seg"`` (None values ignored).

    Returns:
        The trained :class:`DeepSIM` (``info`` records the losses that ran, timings, notes).

    Raises:
        PrimitiveError: blank inputs.
        WeightsUnavailable: ``vgg_loss='require'`` and no VGG19 weights.
        CheckpointError / ValueError: ``resume`` on a directory holding another run.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr))
    if isinstance(config, str):
        if config not in PRESETS:
            raise ValueError(f"unknown DeepSIM preset {config!r}; choose from {', '.join(PRESETS)}")
        config = PRESETS[config]
    config = replace_config(config, **overrides)
    device = resolve_device(device)
    img, prim, original, notes = prepare_pair(image, primitive, config)
    for note in notes:
        log(f"note: {note}")
    kind, cc = config.primitive_kind, config.canny_color
    palette = seg_palette(prim, kind, cc) if kind in ("seg", "seg_edges") else None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)  # torch's default bias init, without touching the caller's RNG
        model = DeepSIM(config, img, prim, palette, original, {"notes": notes}, generator_seed=config.seed).to(device)
        run = _Run(model, config, device)
    out = Path(out_dir) if out_dir is not None else None
    if resume:
        if out is None or not (out / STATE_FILE).exists():
            if out is not None and (out / "model.safetensors").exists():
                raise CheckpointError(f"{out} holds a finished or foreign model without training state: nothing to resume")
            log("note: nothing to resume, starting a new run")
        else:
            tensors, meta = _read_state(out)
            if meta["config"] != config_to_dict(config):
                diff = {k: (v, config_to_dict(config).get(k)) for k, v in meta["config"].items() if config_to_dict(config).get(k) != v}
                raise ValueError(f"cannot resume {out}: its config differs (saved, asked): {diff}")
            saved = DeepSIM.load(out)
            if saved.image.shape != img.shape or (saved.image - img.cpu()).abs().max() > 2 / 255 or (saved.primitive - prim.cpu()).abs().max() > 2 / 255:
                raise ValueError(f"cannot resume {out}: it was trained on a different image or primitive")
            model.generator.load_state_dict(saved.generator.state_dict())
            model.info = saved.info
            run.load(tensors, meta, device)
            log(f"resuming {out} at iteration {run.iteration}")
    elif out is not None and (out / STATE_FILE).exists():
        raise CheckpointError(f"{out} holds an unfinished run: pass resume=True (--resume) or choose another directory")

    vgg, vgg_status = _vgg_loss(config, vgg_weights, device, log)
    losses_ran = ["lsgan"] + (["feature_matching"] if config.gan_feat_loss else []) + (["vgg19"] if vgg else [])
    model.info.update({"losses": losses_ran, "vgg_loss": vgg_status, "size": list(model.size)})

    colors, edges = split_primitive(prim, kind, cc)
    colors_mode = "bilinear" if kind == "manual" else "nearest"
    edge_bank = None
    if config.canny_aug and kind in ("edges", "seg_edges"):
        edge_bank = torch.cat([canny_edges(img, s) for s in config.canny_sigmas]).to(device)

    total = config.iters if stop_after is None else min(stop_after, config.iters)
    history = model.info.setdefault("loss_history", [])
    names = ("g_gan", "g_feat", "g_vgg", "d_real", "d_fake")
    running = {n: 0.0 for n in names}
    counted = 0
    last_save = time.perf_counter()
    start = time.perf_counter()
    started_at = run.iteration
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, initial=run.iteration, desc="deepsim", file=sys.stderr, dynamic_ncols=True)
    n_layers = config.n_layers_d
    autocast = dict(device_type=device.type, dtype=torch.bfloat16, enabled=config.bf16)
    model.generator.train()
    while run.iteration < total:
        i = run.iteration
        lr = learning_rate(i, config)
        for opt in (run.opt_g, run.opt_d):
            for group in opt.param_groups:
                group["lr"] = lr
        params = sample_params(config, img.shape[-2], img.shape[-1], run.rng)
        real, col, edg = apply_params(
            params, img, colors, edges, points_per_dim=config.tps_points_per_dim, colors_mode=colors_mode,
            edge_bank=edge_bank,
        )
        prim_aug = compose_primitive(col, edg, cc)
        with torch.autocast(**autocast):
            fake = model.generator(prim_aug)
            pred_fake_d = run.discriminator(prim_aug, fake.detach())
            pred_real = run.discriminator(prim_aug, real)
            pred_fake = run.discriminator(prim_aug, fake)
            loss_d_fake = lsgan_loss(pred_fake_d, False)
            loss_d_real = lsgan_loss(pred_real, True)
            loss_g_gan = lsgan_loss(pred_fake, True)
            loss_g_feat = (
                feature_matching_loss(pred_fake, pred_real, n_layers) * config.lambda_feat
                if config.gan_feat_loss else torch.zeros((), device=device)
            )
            loss_g_vgg = vgg(fake.float(), real) * config.lambda_vgg if vgg is not None else torch.zeros((), device=device)
        loss_g = (loss_g_gan + loss_g_feat + loss_g_vgg).float()
        loss_d = ((loss_d_fake + loss_d_real) * 0.5).float()
        run.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        run.opt_g.step()
        run.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        run.opt_d.step()
        run.iteration += 1

        for n, v in zip(names, (loss_g_gan, loss_g_feat, loss_g_vgg, loss_d_real, loss_d_fake)):
            running[n] += float(v.detach())
        counted += 1
        if run.iteration % 50 == 0 or run.iteration == total:
            history.append([run.iteration] + [round(running[n] / counted, 5) for n in names])
            running = {n: 0.0 for n in names}
            counted = 0
        if bar is not None:
            bar.update(1)
            if run.iteration % 10 == 0:
                bar.set_postfix(g=f"{float(loss_g):.3f}", d=f"{float(loss_d):.3f}", lr=f"{lr:.1e}")
        due = run.iteration % config.checkpoint_every == 0 or time.perf_counter() - last_save > checkpoint_seconds
        if out is not None and (due or run.iteration == total):
            seconds = model.info.get("train_seconds", 0.0) + time.perf_counter() - start
            model.info["train_seconds"] = round(seconds, 2)
            start = time.perf_counter()
            run.save(out)
            _write_progress(out, model, prim_aug, fake, real)
            last_save = time.perf_counter()
            model.generator.train()
    if bar is not None:
        bar.close()
    if out is None:
        model.info["train_seconds"] = round(model.info.get("train_seconds", 0.0) + time.perf_counter() - start, 2)
    done = run.iteration - started_at
    if done:
        model.info["seconds_per_iter"] = round(model.info["train_seconds"] / max(1, run.iteration), 4)
    model.info["iterations"] = run.iteration
    if out is not None:
        if run.iteration >= config.iters and (out / STATE_FILE).exists():
            (out / STATE_FILE).unlink()  # finished: the model alone is what users need
        model.save(out)
    model.generator.eval()
    return model


def _write_progress(out: Path, model: DeepSIM, prim_aug, fake, real) -> None:
    """``progress.png``: an augmented pair, its translation, and the training primitive's translation."""
    rec = model.reconstruction()
    save_grid(
        [prim_aug.detach().float().cpu(), fake.detach().float().clamp(-1, 1).cpu(), real.detach().cpu(),
         model.primitive.cpu(), rec.cpu(), model.image.cpu()],
        out / "progress.png", ncol=3,
        labels=["augmented primitive", "G(augmented)", "augmented image", "primitive", "G(primitive)", "image"],
    )
