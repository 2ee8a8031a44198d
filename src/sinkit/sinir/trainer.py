"""SinIR training: cascaded multi-scale reconstruction, coarsest scale first (paper sec. 2.1).

At scale ``n`` the official loop (``runners/runner.py``) does, every iteration::

    x = X_N (real coarsest image)
    for every frozen network k = N .. n+1:  x = up(corrupt(F_k(x)))
    loss = L_rec(F_n(x), X_n);  step F_n

Speed-ups here (none changes what is computed; ``test_sinir_trainer`` checks
that cached + batched training gives the official loop's weights):

* **cache**: ``F_N(X_N)``, the coarsest network's output on the fixed real
  image, is deterministic (no noise, InstanceNorm without running statistics,
  corruption applied only AFTER it), so it is computed once per scale instead
  of once per iteration;
* **batch**: the frozen part of the cascade runs for ``cascade_batch``
  iterations at once, without autograd.  Each iteration has its own random
  generator (seeded from the run seed, the scale and the iteration number),
  so the corruption every iteration sees is the same whether iterations are
  batched or not, and InstanceNorm normalises each image of a batch on its own.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from ..core.device import resolve_device
from ..core.io import save_image
from ..core.pyramid import sinir_pyramid
from ..core.resize import resize
from ..core.training import scale_seed, start_run, train_scales
from .config import SinIRConfig
from .corruptions import Corruption, make_corruption
from .losses import reconstruction_loss
from .model import SinIR
from .networks import SinIRNet

__all__ = ["train", "train_scale", "cascade_inputs", "iteration_generator"]


def iteration_generator(seed: int, index: int, iteration: int) -> torch.Generator:
    """CPU generator of the corruptions of one training iteration (independent of batching)."""
    return torch.Generator().manual_seed((scale_seed(seed, index) * 1_000_033 + iteration * 104_729 + 1) % (2**63))


def train(
    image: torch.Tensor,
    config: SinIRConfig,
    *,
    out_dir: str | Path | None = None,
    resume: bool = False,
    device: str | torch.device = "auto",
    progress: bool = True,
    stop_after: int | None = None,
    on_scale_end: Callable[[SinIR, int], None] | None = None,
    cache: bool = True,
    cascade_batch: int = 8,
) -> SinIR:
    """Train SinIR on one image.

    After every finished scale the model is saved to ``out_dir`` (atomically)
    with ``scales/NN/`` images (real, training input with corruption,
    reconstruction), so an interrupted run loses at most the scale in progress.

    Args:
        image: ``(1, 3, H, W)`` in ``[-1, 1]``, any size; resized so its long side is
            ``config.max_size`` (see :func:`~sinkit.core.pyramid.sinir_pyramid`).
        config: hyperparameters (:data:`~sinkit.sinir.config.PRESETS`).
        out_dir: where to save checkpoints and per-scale images (None: nothing saved).
        resume: continue the run saved in ``out_dir`` (same image and config).
        device: ``auto``, ``cpu``, ``cuda`` or ``mps``.
        progress: show a progress bar per scale.
        stop_after: train only this many scales in total (tests / interruption).
        on_scale_end: called with ``(model, index)`` after each scale.
        cache: compute the coarsest network's output on the real image once per
            scale (exact; False runs the official per-iteration loop).
        cascade_batch: iterations whose frozen-cascade inputs are computed in
            one batched pass (exact; 1 = one pass per iteration).

    Returns:
        The trained :class:`SinIR`.

    Raises:
        ValueError: bad image shape or pyramid; ``resume`` with another image or config.
        CheckpointError: ``resume`` from a corrupt checkpoint or another method's.
    """
    if image.dim() != 4 or image.shape[:2] != (1, 3):
        raise ValueError(f"expected a (1, 3, H, W) image, got {tuple(image.shape)}")
    if cascade_batch < 1:
        raise ValueError(f"cascade_batch must be >= 1, got {cascade_batch}")
    device = resolve_device(device)
    spec = sinir_pyramid(
        image.shape[2], image.shape[3],
        min_size=config.min_size, max_size=config.max_size,
        scale_factor=config.scale_factor, num_scales=config.num_scales,
    )
    if min(spec.sizes[0]) < 2:
        raise ValueError(f"coarsest scale {spec.sizes[0]} is too small for the 3x3 reflect-padded convolutions")
    real = resize(image.to(device), spec.image_size, antialias=config.antialias)

    model, _ = start_run(
        SinIR, {"image": real}, config, out_dir=out_dir, resume=resume, device=device,
        create=lambda: SinIR(config, {"image": real}, spec, [], {}),
    )
    return train_scales(
        model,
        lambda index: train_scale(model, index, progress=progress, cache=cache, cascade_batch=cascade_batch),
        model.networks.append,
        iters=config.iters,
        out_dir=out_dir,
        stop_after=stop_after,
        write_scale_images=write_scale_images,
        on_scale_end=on_scale_end,
    )


@torch.no_grad()
def cascade_inputs(
    model: SinIR,
    index: int,
    corrupt: Corruption,
    generators: list[torch.Generator],
    *,
    coarsest_output: torch.Tensor | None = None,
) -> torch.Tensor:
    """Training inputs of network ``index``: the real coarsest image through the frozen networks.

    One input per generator: ``x = X_N``; for every frozen network ``k < index``:
    ``x = up(corrupt(F_k(x)))`` (official ``Runner._forward``; the corruption
    follows each network's output, so the coarsest network's own input is the
    clean real image).

    Args:
        model: the model with networks ``0 .. index - 1`` trained.
        index: the scale being trained.
        corrupt: the corruption (:func:`~sinkit.sinir.corruptions.make_corruption`).
        generators: one CPU generator per input (per training iteration).
        coarsest_output: ``F_0(X_N)``, ``(1, 3, h0, w0)``, if already computed (the cache).

    Returns:
        ``(len(generators), 3, h, w)`` at ``model.sizes[index]``.
    """
    batch = len(generators)
    pyramid = model.pyramid
    if index == 0:
        return pyramid[0].expand(batch, -1, -1, -1)
    if coarsest_output is None:
        coarsest_output = model.forward_scale(0, pyramid[0])
    x = coarsest_output.expand(batch, -1, -1, -1)
    for k in range(index):
        if k > 0:
            x = model.forward_scale(k, x)
        x = torch.cat([corrupt(x[j : j + 1], g) for j, g in enumerate(generators)])
        x = resize(x, model.sizes[k + 1], antialias=model.config.antialias)
    return x


def train_scale(
    model: SinIR, index: int, *, progress: bool = True, cache: bool = True, cascade_batch: int = 8
) -> tuple[SinIRNet, dict]:
    """Train network ``index`` to reconstruct pyramid level ``index`` (paper eq. 1-2); coarser ones are frozen.

    The network starts as a copy of the previous scale's (fresh PyTorch
    initialisation at the coarsest scale), Adam with a cosine-annealed
    learning rate reaching 0 at the end of the scale (official
    ``CosineAnnealingLR(T_max=iters)``).

    Returns:
        The trained network (eval mode, frozen) and ``{"first", "last"}`` mean losses
        over the first / last 5% of iterations.
    """
    config: SinIRConfig = model.config
    device = model.device
    torch.manual_seed(scale_seed(config.seed, index))
    if index == 0:
        net = SinIRNet(config.channels, config.num_blocks)
    else:
        net = copy.deepcopy(model.networks[index - 1])  # official _grow_network
    net.to(device).train().requires_grad_(True)
    target = model.pyramid[index]
    corrupt = make_corruption(config)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr, betas=config.betas)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.iters)

    coarsest = model.forward_scale(0, model.pyramid[0]) if (cache and index > 0) else None
    batch = cascade_batch if cache else 1
    history: list[float] = []
    bar = tqdm(
        total=config.iters,
        desc=f"scale {index}/{model.spec.num_scales - 1} {target.shape[2]}x{target.shape[3]}",
        disable=not progress,
        dynamic_ncols=True,
    )
    for first in range(0, config.iters, batch):
        gens = [iteration_generator(config.seed, index, it) for it in range(first, min(first + batch, config.iters))]
        inputs = cascade_inputs(model, index, corrupt, gens, coarsest_output=coarsest)
        for j in range(len(gens)):
            opt.zero_grad(set_to_none=True)
            with model._autocast():
                out = net(inputs[j : j + 1])
            loss = reconstruction_loss(out.float(), target, config.ssim_window)
            loss.backward()
            opt.step()
            sched.step()
            history.append(loss.item())
        bar.update(len(gens))
        bar.set_postfix(loss=f"{history[-1]:.4f}", lr=f"{sched.get_last_lr()[0]:.1e}")
    bar.close()
    net.eval().requires_grad_(False)
    k = max(1, len(history) // 20)
    return net, {"first": sum(history[:k]) / k, "last": sum(history[-k:]) / k}


@torch.no_grad()
def write_scale_images(model: SinIR, index: int, folder: Path) -> None:
    """Real image, one corrupted training input and the reconstruction at scale ``index``."""
    folder.mkdir(parents=True, exist_ok=True)
    save_image(model.pyramid[index], folder / "real.png")
    gen = iteration_generator(model.config.seed, index, 0)
    save_image(cascade_inputs(model, index, make_corruption(model.config), [gen]), folder / "training_input.png")
    save_image(model.reconstruct(stop=index + 1)[-1], folder / "reconstruction.png")
