"""Training drivers shared by every method, and the one resume story.

Two drivers, one per kind of method:

* :func:`train_scales` -- progressive (coarse-to-fine) pyramids: one scale at a
  time, coarsest first; a checkpoint after every finished scale; a resumed run
  restarts the unfinished scale (each scale reseeds from the run seed, so the
  result equals an uninterrupted run).  SinGAN, SinIR.
* :func:`train_iterations` -- end-to-end models trained by iterations, in named
  :class:`Phase` s (PetsGAN: external prior, internal prior, joint); a
  checkpoint every ``checkpoint_every`` iterations and at least every
  ``checkpoint_seconds`` of wall time, holding the model AND the training
  state (optimizers, schedulers, random generators, the iteration count), so a
  resumed run continues bit-identically on the same device.

Both resume through :func:`resume_run`, which refuses a directory holding
another method's model, another config or other training inputs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
from tqdm.auto import tqdm

from .checkpoint import TRAINING_STATE_PREFIX, CheckpointError, load_checkpoint, read_metadata
from .registry import load
from .state import flatten_state, unflatten_state

__all__ = ["Phase", "start_run", "resume_run", "scale_seed", "train_scales", "train_iterations", "load_training_state"]


def scale_seed(seed: int, index: int) -> int:
    """Seed for scale ``index``: reseeding per scale makes a resumed run equal an uninterrupted one."""
    return (seed * 1_000_003 + index * 7919) % (2**63)


def resume_run(
    out_dir: str | Path | None,
    model_class: type,
    inputs: Mapping[str, torch.Tensor],
    config: Any,
    device: torch.device | str = "cpu",
):
    """Load the interrupted run in ``out_dir`` if there is one, after checking it is the same run.

    Args:
        out_dir: the run directory (None or no checkpoint yet: returns None).
        model_class: the method's model class (the saved run must be of its method).
        inputs: the named training inputs asked for now, as the model stores them
            (e.g. ``{"image": resized image}``); each must equal the saved one up to
            8-bit quantisation.
        config: the config asked for now; must equal the saved one.
        device: where to load the model.

    Returns:
        The partially (or fully) trained model, or None.

    Raises:
        CheckpointError: the directory holds another method's model, or a corrupt one.
        ValueError: the saved config or a training input differs from the ones asked for.
    """
    if out_dir is None or not (Path(out_dir) / "model.safetensors").exists():
        return None
    meta = read_metadata(out_dir)
    if meta["method"] != model_class.method:
        raise CheckpointError(f"{out_dir} holds a {meta['method']} model, not {model_class.method}")
    model = load(out_dir, device=device)
    if model.config != config:
        diff = {k: (v, getattr(config, k)) for k, v in vars(model.config).items() if getattr(config, k) != v}
        raise ValueError(f"cannot resume {out_dir}: its config differs (saved, asked): {diff}")
    saved = model.training_inputs
    for name, tensor in inputs.items():
        old = saved.get(name)
        if old is None or old.shape != tensor.shape or (old.to(tensor.device) - tensor).abs().max() > 2 / 255:
            raise ValueError(f"cannot resume {out_dir}: it was trained on a different {name}")
    with torch.no_grad():
        for spec in model.inputs:  # keep the caller's exact tensors (identical up to 8-bit quantisation)
            if spec.name in inputs:
                getattr(model, spec.buffer).copy_(inputs[spec.name])
    return model


def start_run(
    model_class: type,
    inputs: Mapping[str, torch.Tensor],
    config: Any,
    *,
    out_dir: str | Path | None,
    resume: bool,
    device: torch.device | str,
    create: Callable[[], Any],
) -> tuple[Any, Any | None]:
    """The model to train: the interrupted run in ``out_dir`` when ``resume`` (checked by
    :func:`resume_run`), else ``create()``; and the saved training state of an iteration-driven
    run (:func:`load_training_state`), or None.

    Every trainer starts here, so what happens to an existing run directory is decided in one place.

    Raises:
        CheckpointError, ValueError: as :func:`resume_run`.
    """
    model = resume_run(out_dir, model_class, inputs, config, device) if resume else None
    if model is None:
        return create(), None
    return model, load_training_state(out_dir)


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
    """Train the scales ``model.num_scales .. last`` of a pyramid model one after the other.

    After each scale: record its wall time, seconds per iteration and loss
    summary in ``model.info``, save the checkpoint to ``out_dir`` (atomic) and
    the per-scale images to ``out_dir/scales/NN``.

    Args:
        model: a :class:`~sinkit.core.pyramid_model.PyramidModel` whose ``num_scales``
            counts the scales trained so far.
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


@dataclass
class Phase:
    """A named stretch of an iteration-driven training (PetsGAN: ``external``, ``internal``, ``joint``).

    Attributes:
        name: shown in the progress bar and recorded in ``model.info``.
        iters: number of iterations.
        step: ``step(i)`` runs iteration ``i`` (0-based within the phase) and returns
            its losses ``{name: float}``.  All randomness must come from state that
            the trainer's ``state_dict`` saves (``torch.Generator`` objects), or
            from the global torch RNG (which the driver saves).
    """

    name: str
    iters: int
    step: Callable[[int], Mapping[str, float]]


def load_training_state(out_dir: str | Path) -> Any | None:
    """The training state saved with an unfinished run (the tree given to :func:`train_iterations`'s
    ``get_state``), or None when the run finished or has no such state.

    Raises:
        CheckpointError: the state is corrupt.
    """
    tensors, meta = load_checkpoint(out_dir)
    skeleton = meta.get("training_state")
    if skeleton is None:
        return None
    try:
        return unflatten_state(skeleton, {k: v for k, v in tensors.items() if k.startswith(TRAINING_STATE_PREFIX)})
    except (KeyError, ValueError) as err:
        raise CheckpointError(f"{out_dir}: the saved training state is incomplete ({err})") from err


def train_iterations(
    model,
    phases: Sequence[Phase],
    *,
    get_state: Callable[[], Any],
    set_state: Callable[[Any], None],
    out_dir: str | Path | None = None,
    resume_state: Any | None = None,
    checkpoint_every: int = 500,
    checkpoint_seconds: float = 300.0,
    progress: bool = True,
    stop_after: int | None = None,
    log_every: int = 25,
    on_checkpoint: Callable[[Any, int], None] | None = None,
):
    """Run ``phases`` one after the other, checkpointing model and training state as it goes.

    The iteration count (over all phases) lives in ``model.info["iteration"]``;
    a run resumed from a checkpoint (``resume_state`` from
    :func:`load_training_state`, the model from :func:`resume_run`) continues at
    that iteration after ``set_state(resume_state)`` restores the optimizers,
    schedulers and generators, and the driver restores the global torch RNG.
    The final checkpoint holds the model only (no training state).

    Args:
        model: a :class:`~sinkit.core.model.SingleImageModel`.
        phases: the phases in order.
        get_state: returns the trainer's state (nested dicts/lists of tensors and
            scalars: optimizer and scheduler ``state_dict()`` s, ``generator.get_state()``).
        set_state: restores what ``get_state`` returned.
        out_dir: checkpoint directory (None: nothing saved).
        resume_state: the state saved with the run being resumed, or None.
        checkpoint_every: iterations between checkpoints (<= 0: only the time rule and the end).
        checkpoint_seconds: wall time between checkpoints at the most, s.
        progress: one progress bar per phase, with losses.
        stop_after: stop after this many iterations in total (tests / interruption), saving a
            checkpoint there.
        log_every: iterations between loss records in ``model.info["losses"]``.
        on_checkpoint: ``(model, iteration)`` after every checkpoint.

    Returns:
        The model (``model.info["complete"]`` True when every phase finished).
    """
    total = sum(p.iters for p in phases)
    info = model.info
    info.setdefault("iteration", 0)
    info.setdefault("losses", {})
    info.setdefault("train_seconds", 0.0)
    info.setdefault("phase_seconds", {})
    info["total_iterations"] = total
    info["phases"] = [{"name": p.name, "iters": p.iters} for p in phases]
    done = int(info["iteration"])
    if done > 0:
        if resume_state is None and done < total:
            raise CheckpointError(f"cannot resume at iteration {done}: the checkpoint holds no training state")
        if resume_state is not None:
            set_state(resume_state["trainer"])
            torch.set_rng_state(resume_state["torch_rng"])
    last = total if stop_after is None else min(stop_after, total)
    info["complete"] = done >= total

    def save(final: bool) -> None:
        if out_dir is None:
            return
        state = None
        if not final:
            state = flatten_state({"trainer": get_state(), "torch_rng": torch.get_rng_state()}, prefix=TRAINING_STATE_PREFIX)
        model.save(out_dir, training_state=state)
        if on_checkpoint is not None:
            on_checkpoint(model, int(info["iteration"]))

    last_save = time.perf_counter()
    offset = 0
    for phase in phases:
        begin, end = offset, offset + phase.iters
        offset = end
        if done >= end or done >= last:
            continue
        first = done - begin
        bar = tqdm(
            total=phase.iters,
            initial=first,
            desc=f"{phase.name} ({len(info['phases'])} phases)" if len(phases) > 1 else phase.name,
            disable=not progress,
            dynamic_ncols=True,
        )
        history = info["losses"].setdefault(phase.name, [])
        phase_start = time.perf_counter()
        for i in range(first, phase.iters):
            if done >= last:
                break
            t0 = time.perf_counter()
            losses = phase.step(i)
            done += 1
            info["iteration"] = done
            elapsed = time.perf_counter() - t0
            info["train_seconds"] = float(info["train_seconds"]) + elapsed
            if i % log_every == 0 or i == phase.iters - 1:
                history.append({"iteration": i, **{k: float(v) for k, v in losses.items()}})
                bar.set_postfix({k: f"{float(v):.4g}" for k, v in losses.items()}, refresh=False)
            bar.update(1)
            now = time.perf_counter()
            due = (checkpoint_every > 0 and done % checkpoint_every == 0) or now - last_save >= checkpoint_seconds
            if due and done < total and done < last:
                save(final=False)
                last_save = time.perf_counter()
        info["phase_seconds"][phase.name] = info["phase_seconds"].get(phase.name, 0.0) + (time.perf_counter() - phase_start)
        bar.close()
    info["complete"] = done >= total
    save(final=info["complete"])
    return model
