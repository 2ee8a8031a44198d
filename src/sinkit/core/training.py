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

Every trainer starts with :func:`start_run`, the one place that decides what
happens to an existing run directory (:func:`prepare_run_dir`): it must be
creatable and writable; one process writes it at a time (a lock file,
:mod:`sinkit.core.locks`); a directory holding a model is refused unless the
run is resumed (``resume``: :func:`resume_run` checks it is the same method,
config and training inputs) or replaced (``overwrite``: every output of the old
run is removed first, its per-scale images included); temporary files of an
interrupted save are removed.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import hashlib
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
from tqdm.auto import tqdm

from .checkpoint import CONFIG_FILE, TRAINING_STATE_PREFIX, WEIGHTS_FILE, CheckpointError, load_checkpoint, read_metadata, remove_orphans
from .errors import SinkitError
from .io import OutputPathError, ensure_dir
from .locks import DirectoryLock
from .registry import load
from .state import flatten_state, unflatten_state

__all__ = ["Phase", "RunDirectoryError", "RunExistsError", "RUN_OUTPUTS", "run_scope", "prepare_run_dir", "progress_of", "start_run", "resume_run", "scale_seed", "private_noise_generator", "train_scales", "train_iterations", "load_training_state"]


#: what a training run writes into its directory; ``overwrite`` removes these (plus the method's
#: own ``run_outputs``) before a new run starts there
RUN_OUTPUTS = (WEIGHTS_FILE, CONFIG_FILE, "scales", "samples.png", "reconstruction.png")


class RunDirectoryError(SinkitError, RuntimeError):
    """The run directory cannot be used: it cannot be created or written, or it holds another run."""


class RunExistsError(RunDirectoryError):
    """The run directory holds a model (finished or interrupted) and neither ``resume`` nor
    ``overwrite`` was given (``sinkit train --resume`` / ``--overwrite``; the message says which fits)."""


@dataclass
class _Scope:
    overwrite: bool = False
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)


_SCOPE: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar("sinkit_run_scope", default=None)


@contextlib.contextmanager
def run_scope(*, overwrite: bool = False):
    """The lifetime of one training call (:meth:`~sinkit.core.model.SingleImageModel.fit` opens it):
    the run directory's lock taken by :func:`start_run` inside it is released when it ends, however
    it ends (return, exception, Ctrl-C), and ``overwrite`` reaches :func:`start_run` without every
    method's trainer having to pass it on."""
    scope = _Scope(overwrite=overwrite)
    token = _SCOPE.set(scope)
    try:
        with scope.stack:
            yield scope
    finally:
        _SCOPE.reset(token)


def _describe_run(out_dir: Path) -> tuple[str, bool]:
    """What the run directory holds, for messages, and whether it can be resumed:
    ``("a finished singan model", False)``, ``("an interrupted singan run (3 of 8 scales)", True)``."""
    try:
        model = load(out_dir, device="cpu")
    except (CheckpointError, OSError, ValueError) as err:
        return f"an unreadable model ({' '.join(str(err).split())[:120]})", False
    if model.complete:
        return f"a finished {model.method} model", False
    return f"an interrupted {model.method} run ({progress_of(model)})", True


def progress_of(model) -> str:
    """How far training got: ``"3 of 8 scales"`` (pyramids), ``"700 of 2000 iterations"``, or ``"complete"``."""
    total_scales = getattr(getattr(model, "spec", None), "num_scales", None)
    if total_scales is not None and hasattr(model, "num_scales"):
        return f"{model.num_scales} of {total_scales} scales"
    info = model.info
    if "total_iterations" in info:
        return f"{int(info.get('iteration', 0))} of {int(info['total_iterations'])} iterations"
    return "complete" if model.complete else "unfinished"


def prepare_run_dir(
    out_dir: str | Path,
    *,
    resume: bool,
    overwrite: bool,
    extra_outputs: tuple[str, ...] = (),
) -> None:
    """Make ``out_dir`` ready for a run, or refuse it, before any training happens.

    * ``out_dir`` must be a directory that can be created and written;
    * its lock is taken (released when the enclosing :func:`run_scope` ends; without one,
      when the process exits), so a second writer fails with a
      :class:`~sinkit.core.locks.LockedError` naming the first one's PID;
    * temporary files of an interrupted save are removed;
    * a directory holding a model is refused unless ``resume`` (the caller then loads it) or
      ``overwrite`` (every output of the old run, :data:`RUN_OUTPUTS` and ``extra_outputs``,
      its per-scale images ``scales/`` included, is removed now).  A folder without a model keeps
      its files: they may not be sinkit's.

    Raises:
        ValueError: both ``resume`` and ``overwrite``.
        RunExistsError: a model is there and neither flag was given.
        RunDirectoryError: ``out_dir`` is a file, or cannot be created or written.
        LockedError: another live process writes ``out_dir``.
    """
    if resume and overwrite:
        raise ValueError("resume and overwrite exclude each other: --resume continues the run in --out, --overwrite replaces it")
    try:
        out = ensure_dir(out_dir, "run directory")
    except OutputPathError as err:
        raise RunDirectoryError(str(err)) from err
    lock = DirectoryLock(out, action="train")
    try:
        lock.acquire()
    except OSError as err:
        raise RunDirectoryError(f"cannot write in the run directory {out}: {err.strerror or err}") from err
    scope = _SCOPE.get()
    if scope is not None:
        scope.stack.callback(lock.release)
    else:
        atexit.register(lock.release)
    try:
        remove_orphans(out)
        has_model = (out / WEIGHTS_FILE).exists()
        if has_model and not resume and not overwrite:
            what, resumable = _describe_run(out)
            hint = "pass --resume to continue it, or --overwrite to start over" if resumable else "pass --overwrite to replace it (or choose another --out)"
            raise RunExistsError(f"{out} already holds {what}; {hint}")
        if overwrite and has_model:  # a sinkit run is there: these names are its outputs (never a stranger's config.json)
            for name in dict.fromkeys(RUN_OUTPUTS + tuple(extra_outputs)):
                target = out / name
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                elif target.exists() or target.is_symlink():
                    target.unlink()
    except BaseException:
        if scope is None:
            lock.release()
        raise


def scale_seed(seed: int, index: int) -> int:
    """Seed for scale ``index``: reseeding per scale makes a resumed run equal an uninterrupted one."""
    return (seed * 1_000_003 + index * 7919) % (2**63)


def private_noise_generator(seed: int, purpose: str) -> torch.Generator:
    """A random stream fixed by the training seed that no sampling seed can select.

    For a method's fixed reconstruction noise (SinGAN's z*, PetsGAN's z_fixed): drawn from
    ``torch.Generator().manual_seed(seed)`` it equals the first noise ``model.sample(...,
    generator=seed)`` draws, so sample #0 of a model sampled with its training seed (the
    bench's default) comes out as the reconstruction.  The seed here is 64 bits of
    SHA-256 of ``purpose`` and the training seed: a resumed run draws the same noise, and
    no small integer reproduces it.

    Args:
        seed: the training seed.
        purpose: what the stream is for, e.g. ``"singan.z_rec"`` (separate streams per use).
    """
    digest = hashlib.sha256(f"sinkit.{purpose}:{seed}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little"))


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
    overwrite: bool | None = None,
) -> tuple[Any, Any | None]:
    """The model to train: the interrupted run in ``out_dir`` when ``resume`` (checked by
    :func:`resume_run`), else ``create()``; and the saved training state of an iteration-driven
    run (:func:`load_training_state`), or None.

    Every trainer starts here, so what happens to an existing run directory is decided in one
    place: :func:`prepare_run_dir` (lock, refusal of a directory holding a model unless
    ``resume`` or ``overwrite``, removal of the old outputs with ``overwrite``).

    Args:
        overwrite: replace a run in ``out_dir``; None takes the value given to the enclosing
            :meth:`~sinkit.core.model.SingleImageModel.fit` (:func:`run_scope`).

    Raises:
        RunExistsError, RunDirectoryError, LockedError: as :func:`prepare_run_dir`.
        CheckpointError, ValueError: as :func:`resume_run`.
    """
    if overwrite is None:
        scope = _SCOPE.get()
        overwrite = scope.overwrite if scope is not None else False
    if out_dir is not None:
        prepare_run_dir(out_dir, resume=resume, overwrite=overwrite, extra_outputs=tuple(getattr(model_class, "run_outputs", ())))
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
    if out_dir is not None and write_scale_images is not None:
        # A resumed run: a process killed after a checkpoint but before (or while) writing that
        # scale's images left them missing or partial; the last trained scale's are rewritten.
        for index in range(model.num_scales):
            folder = Path(out_dir) / "scales" / f"{index:02d}"
            if index == model.num_scales - 1 or not folder.is_dir():
                write_scale_images(model, index, folder)
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
