"""Progressive (coarse-to-fine) training loop shared by every pyramid method.

SinGAN and SinIR both train one scale at a time, coarsest first, freeze it,
save a checkpoint after every finished scale and resume from the last saved
scale.  Only "train one scale" differs; this module holds the rest once.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import torch

from .checkpoint import CheckpointError, read_metadata
from .registry import load

__all__ = ["resume_run", "scale_seed", "train_scales"]


def scale_seed(seed: int, index: int) -> int:
    """Seed for scale ``index``: reseeding per scale makes a resumed run equal an uninterrupted one."""
    return (seed * 1_000_003 + index * 7919) % (2**63)


def resume_run(out_dir: str | Path, method: str, real: torch.Tensor, config: Any, device: torch.device):
    """Load the interrupted run in ``out_dir`` if it exists, after checking it is the same run.

    Returns:
        The partially trained model, or None when ``out_dir`` holds no checkpoint yet.

    Raises:
        CheckpointError: the directory holds another method's model, or a corrupt one.
        ValueError: the saved config or training image differ from the ones asked for.
    """
    if not (Path(out_dir) / "model.safetensors").exists():
        return None
    meta = read_metadata(out_dir)
    if meta["method"] != method:
        raise CheckpointError(f"{out_dir} holds a {meta['method']} model, not {method}")
    model = load(out_dir, device=device)
    if model.config != config:
        diff = {k: (v, getattr(config, k)) for k, v in vars(model.config).items() if getattr(config, k) != v}
        raise ValueError(f"cannot resume {out_dir}: its config differs (saved, asked): {diff}")
    if model.real.shape != real.shape or (model.real - real).abs().max() > 2 / 255:
        raise ValueError(f"cannot resume {out_dir}: it was trained on a different image")
    model.real = real  # identical up to 8-bit quantisation; keep the caller's exact tensor
    return model


def train_scales(
    model,
    train_scale: Callable[[int], tuple[Any, dict]],
    add_scale: Callable[[Any], None],
    *,
    iters: int,
    out_dir: str | Path | None = None,
    stop_after: int | None = None,
    write_scale_images: Callable[[Any, int, Path], None] | None = None,
    on_scale_end: Callable[[Any, int], None] | None = None,
):
    """Train the scales ``model.num_scales .. last`` one after the other.

    After each scale: record its wall time, seconds per iteration and loss
    summary in ``model.info``, save the checkpoint to ``out_dir`` (atomic) and
    the per-scale images to ``out_dir/scales/NN``.

    Args:
        model: a model whose ``num_scales`` counts the scales trained so far.
        train_scale: ``index -> (scale state, loss summary dict)``.
        add_scale: appends a trained scale state to the model.
        iters: iterations per scale (for seconds per iteration).
        out_dir: checkpoint directory, or None to keep everything in memory.
        stop_after: train only up to this many scales in total.
        write_scale_images: ``(model, index, folder)`` diagnostics writer.
        on_scale_end: ``(model, index)`` callback.

    Returns:
        The model.
    """
    for key in ("train_seconds", "seconds_per_iter", "losses"):
        model.info.setdefault(key, [])
    total = model.spec.num_scales
    last = total if stop_after is None else min(stop_after, total)
    for index in range(model.num_scales, last):
        start = time.perf_counter()
        state, losses = train_scale(index)
        add_scale(state)
        seconds = time.perf_counter() - start
        model.info["train_seconds"].append(seconds)
        model.info["seconds_per_iter"].append(seconds / iters)
        model.info["losses"].append(losses)
        if out_dir is not None:
            model.save(out_dir)
            if write_scale_images is not None:
                write_scale_images(model, index, Path(out_dir) / "scales" / f"{index:02d}")
        if on_scale_end is not None:
            on_scale_end(model, index)
    return model
