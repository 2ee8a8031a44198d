"""The base of every trained single-image model: config, training inputs, record, persistence.

A model is a ``torch.nn.Module``.  Its weights, its training inputs (the image,
a primitive...) and fixed tensors such as reconstruction noise are parameters
and buffers, so ``state_dict()`` holds everything and persistence is generic:

* :meth:`SingleImageModel.save` writes the frozen config and the model's
  :meth:`~SingleImageModel.structure` (what the constructor needs besides the
  config: pyramid sizes, scales trained...) as JSON, and ``state_dict()`` as
  safetensors (:mod:`sinkit.core.checkpoint`);
* :meth:`SingleImageModel.from_checkpoint` builds the skeleton from config and
  structure, then ``load_state_dict(strict=True)``: tensors and metadata that
  disagree are a :class:`~sinkit.core.checkpoint.CheckpointError`, never a
  silently half-loaded model.

What a model can DO is declared by capability mixins
(:mod:`sinkit.core.capabilities`: sampler, translator, injectable;
:class:`sinkit.core.pyramid_model.PyramidModel`), which tasks, CLI and bench
check before using it.  A method is one package: a config dataclass, a model
class registered with :func:`sinkit.core.registry.register_method`, and its
trainer (``docs/adding-a-method.md``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Mapping

import torch
import torch.nn as nn

from .checkpoint import TRAINING_STATE_PREFIX, CheckpointError, save_checkpoint
from .config import check_config, config_from_dict, config_to_dict, replace_config, resolve_config
from .version import __version__

__all__ = ["InputSpec", "OptionSpec", "SingleImageModel"]


@dataclass(frozen=True)
class InputSpec:
    """One named training input of a method (e.g. ``image``, ``primitive``).

    The first input of a method is the positional ``IMAGE`` argument of
    ``sinkit train``; every other one becomes an option ``--<name>`` there.

    Attributes:
        name: key in the mapping given to :meth:`SingleImageModel.fit`.
        help: one line for ``--help``.
        required: training fails with a clear message when it is missing.
        kind: ``"image"`` (RGB, loaded with :func:`~sinkit.core.io.load_image`) or
            ``"mask"`` (one channel, :func:`~sinkit.core.io.load_mask`).
    """

    name: str
    help: str = ""
    required: bool = True
    kind: str = "image"

    @property
    def buffer(self) -> str:
        """Name of the buffer holding the input in the model: ``real`` for the image
        (the field's term, and the key of sinkit 0.1.0 checkpoints), the input's name otherwise."""
        return "real" if self.name == "image" else self.name


@dataclass(frozen=True)
class OptionSpec:
    """A method-specific ``sinkit train`` option that sets one config field.

    Attributes:
        flag: the option, e.g. ``"--noise-padding"`` (a boolean field gets ``--x/--no-x``).
        field: the config field it sets.
        help: one line for ``--help`` (the preset's default is appended).
        type: ``int``, ``float``, ``str`` or ``bool``; ``choices`` restricts a ``str``.
    """

    flag: str
    field: str
    help: str = ""
    type: type = str
    choices: tuple[str, ...] | None = None


class _TrainingEntry:
    """``Model.train(...)`` on the CLASS trains a new model (:meth:`SingleImageModel.fit`);
    ``model.train(mode)`` on an INSTANCE is ``torch.nn.Module.train`` (training/eval mode).

    Both spellings are long-standing: ``sinkit.SinGAN.train("photo.jpg", "fast")`` is the
    library's documented entry point, and torch calls ``module.train(False)`` from ``eval()``.
    """

    def __get__(self, instance, owner):
        if instance is None:
            return owner.fit
        return functools.partial(nn.Module.train, instance)



class SingleImageModel(nn.Module):
    """A model trained on one image (or one image plus other named inputs).

    Subclasses set the class attributes below, implement :meth:`_fit` (training)
    and, when their skeleton depends on training (number of scales...),
    :meth:`structure` / :meth:`from_structure`.

    Attributes:
        config: the method's frozen config dataclass (stored verbatim in the checkpoint).
        info: JSON-ready training record (wall times, losses, iteration counts...).
    """

    #: registry name, set by :func:`~sinkit.core.registry.register_method`
    method: ClassVar[str] = ""
    #: the method's frozen config dataclass
    config_class: ClassVar[type]
    #: preset name -> config (``paper`` is the official defaults)
    presets: ClassVar[Mapping[str, Any]] = {}
    #: named training inputs; the first is ``sinkit train``'s positional IMAGE
    inputs: ClassVar[tuple[InputSpec, ...]] = (InputSpec("image", "the training image"),)
    #: method-specific ``sinkit train`` options
    options: ClassVar[tuple[OptionSpec, ...]] = ()
    #: one line: what this model does and which command to use (shown when a command does not apply)
    usage: ClassVar[str] = ""
    #: True when training only stores the inputs (the image is the model: GPNN-style methods)
    training_free: ClassVar[bool] = False
    #: config fields that change only how samples are drawn, not what training learned: a trained
    #: model may change them (:meth:`set_sampling_options`, ``sinkit sample --set``)
    sampling_fields: ClassVar[tuple[str, ...]] = ()

    train = _TrainingEntry()

    def __init__(self, config: Any, inputs: Mapping[str, torch.Tensor], info: dict | None = None):
        super().__init__()
        self.config = config
        self.info: dict = dict(info or {})
        for spec in self.inputs:
            if spec.name in inputs:
                self.register_buffer(spec.buffer, inputs[spec.name])
            elif spec.required:
                raise ValueError(f"{self.method or type(self).__name__} needs the training input {spec.name!r}")

    # ------------------------------------------------------------------ inputs and state
    @property
    def device(self) -> torch.device:
        """Where the model's tensors are."""
        for t in self.buffers():
            return t.device
        for t in self.parameters():
            return t.device
        return torch.device("cpu")

    @property
    def training_inputs(self) -> dict[str, torch.Tensor]:
        """The named inputs the model was trained on, e.g. ``{"image": (1, 3, H, W)}``."""
        return {s.name: getattr(self, s.buffer) for s in self.inputs if hasattr(self, s.buffer)}

    def training_image(self) -> torch.Tensor:
        """The training image as the model learned it, ``(1, 3, H, W)`` in ``[-1, 1]``."""
        return self.training_inputs["image"]

    @property
    def complete(self) -> bool:
        """False while training is unfinished (a run interrupted before its end)."""
        return bool(self.info.get("complete", True))

    @property
    def train_seconds(self) -> float:
        """Total training wall time recorded so far, s (0 when not recorded)."""
        secs = self.info.get("train_seconds", 0.0)
        return float(sum(secs)) if isinstance(secs, list) else float(secs)

    def set_sampling_options(self, **options: Any) -> "SingleImageModel":
        """Change config fields listed in :attr:`sampling_fields` for this model's next samples, in
        memory (nothing is saved; the model directory keeps the trained config).  Returns the model
        to sample with: ``self``, changed in place (training-free models build a new one).

        Example: ``load("runs/p").set_sampling_options(hr_refine=0)`` draws PetsGAN samples without
        the HR refinement (``sinkit sample runs/p --set hr_refine=0``).

        Raises:
            ValueError: a field that is not a sampling option of this method (the message lists
                those that are), an unknown field, or a value the config rejects.
        """
        config = check_config(replace_config(self.config, **options))  # unknown fields, bad values
        fixed = sorted(set(options) - set(self.sampling_fields))
        if fixed:
            known = ", ".join(self.sampling_fields) or "none"
            raise ValueError(f"{', '.join(fixed)} cannot change after training; the sampling options of "
                             f"{self.method or type(self).__name__} models are: {known}")
        self.config = config
        return self

    def reconstruction(self) -> torch.Tensor | None:
        """The model's reconstruction of its training image (``(1, 3, H, W)`` in ``[-1, 1]``), or None
        for methods without one.  The benchmark scores it against :meth:`training_image`."""
        return None

    # ------------------------------------------------------------------ resources
    #: live float32 activation maps of the widest layer at the peak of a forward pass, per image
    #: (measured for SinGAN: ~5.2 at 32 channels; see docs/reliability.md)
    activation_maps: ClassVar[float] = 6.0

    def estimate_memory(self, size: tuple[int, int], *, batch: int = 1, outputs: int = 1) -> int:
        """Estimated peak memory, bytes, of producing ``outputs`` images of ``size`` = ``(H, W)`` px,
        ``batch`` at a time, without gradients (what the memory guard of ``sinkit sample`` and the
        task commands compares with its limit, :mod:`sinkit.core.resources`).

        Default, for fully convolutional models: ``4 bytes * H * W * (batch * widest * activation_maps
        + 6 * outputs)`` -- the widest layer's activation maps of one batch, plus the finished
        outputs (3 channels, kept twice while they are concatenated).  ``widest`` is the largest
        ``out_channels`` of the model's layers.  Methods whose memory grows otherwise (patch
        nearest-neighbour search: quadratic in the number of patches) override this.
        """
        h, w = size
        widest = max((int(m.out_channels) for m in self.modules() if isinstance(getattr(m, "out_channels", None), int)), default=64)
        return int(4 * h * w * (batch * widest * self.activation_maps + 6 * outputs))

    # ------------------------------------------------------------------ persistence
    def structure(self) -> dict:
        """JSON-ready description of the skeleton (besides the config) that :meth:`from_structure`
        needs to rebuild the modules before loading the weights.  Default: nothing."""
        return {}

    @classmethod
    def from_structure(cls, config: Any, inputs: dict[str, torch.Tensor], structure: dict, info: dict | None) -> "SingleImageModel":
        """An untrained skeleton of the shape :meth:`structure` describes (weights loaded after).

        ``structure`` is the checkpoint's whole metadata dict, so methods read their own keys.
        """
        return cls(config, inputs, info=info)

    def metadata(self) -> dict:
        """Everything stored as JSON next to the tensors."""
        reserved = {"method", "sinkit_version", "config", "info", "inputs", "format_version", "training_state"}
        structure = self.structure()
        clash = reserved & set(structure)
        if clash:
            raise ValueError(f"{type(self).__name__}.structure() uses reserved keys {sorted(clash)}")
        return {
            "method": self.method,
            "sinkit_version": __version__,
            "config": config_to_dict(self.config),
            "inputs": {name: list(t.shape) for name, t in self.training_inputs.items()},
            "info": self.info,
            **structure,
        }

    def save(self, directory: str | Path, *, training_state: tuple[dict[str, torch.Tensor], Any] | None = None) -> Path:
        """Write the model to ``directory``: ``config.json`` + ``model.safetensors``, atomically.

        Args:
            directory: created if needed.
            training_state: ``(tensors, skeleton)`` from :func:`~sinkit.core.state.flatten_state`
                to store with the model (optimizers, RNG...) so an unfinished run can resume;
                the tensors' keys must start with ``trainer.``.

        Returns:
            ``directory``.
        """
        tensors = dict(self.state_dict())
        meta = self.metadata()
        if training_state is not None:
            extra, skeleton = training_state
            bad = [k for k in extra if not k.startswith(TRAINING_STATE_PREFIX)]
            if bad:
                raise ValueError(f"training-state tensors must be named {TRAINING_STATE_PREFIX}*, got {bad[:3]}")
            tensors.update(extra)
            meta["training_state"] = skeleton
        return save_checkpoint(directory, tensors, meta)

    @classmethod
    def from_checkpoint(cls, tensors: dict[str, torch.Tensor], meta: dict) -> "SingleImageModel":
        """Rebuild a model from :func:`~sinkit.core.checkpoint.load_checkpoint` output.

        Raises:
            CheckpointError: the config is not this method's, a training input is
                missing, the tensors do not match the structure (missing,
                unexpected or mis-shaped, each named) or the recorded input shapes,
                or :meth:`check_consistency` fails.
        """
        try:
            config = config_from_dict(cls.config_class, meta["config"])
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"{cls.method} checkpoint has an unreadable config: {err}") from err
        inputs = {}
        for spec in cls.inputs:
            if spec.buffer in tensors:
                inputs[spec.name] = tensors[spec.buffer]
            elif spec.required:
                raise CheckpointError(f"{cls.method} checkpoint lacks its training input {spec.name!r} (tensor {spec.buffer!r})")
        try:
            model = cls.from_structure(config, inputs, meta, meta.get("info"))
        except (KeyError, IndexError, TypeError, ValueError) as err:
            raise CheckpointError(f"{cls.method} checkpoint metadata is incomplete or inconsistent: {err!r}") from err
        weights = {k: v for k, v in tensors.items() if not k.startswith(TRAINING_STATE_PREFIX)}
        missing, unexpected, shapes = _compare_state(model.state_dict(), weights)
        if missing or unexpected or shapes:
            parts = []
            for label, keys in (("missing tensors", missing), ("unexpected tensors", unexpected), ("mis-shaped tensors", shapes)):
                if keys:
                    parts.append(f"{label} {', '.join(keys[:4])}{' ...' if len(keys) > 4 else ''} ({len(keys)})")
            raise CheckpointError(f"{cls.method} checkpoint: its tensors do not match its metadata: " + "; ".join(parts))
        model.load_state_dict(weights, strict=True)
        recorded = meta.get("inputs")
        if isinstance(recorded, dict):
            for name, tensor in model.training_inputs.items():
                if name in recorded and list(recorded[name]) != list(tensor.shape):
                    raise CheckpointError(
                        f"{cls.method} checkpoint: its {name} tensor is {tuple(tensor.shape)} but its metadata says {tuple(recorded[name])}"
                    )
        try:
            model.check_consistency()
        except ValueError as err:
            raise CheckpointError(f"{cls.method} checkpoint is inconsistent: {err}") from err
        return model.eval()

    def check_consistency(self) -> None:
        """Called on every loaded model: raise ``ValueError`` when its parts disagree in a way the
        tensor shapes cannot show (a pyramid whose image is not its finest size...).  Default: nothing."""

    # ------------------------------------------------------------------ training
    @classmethod
    def fit(
        cls,
        inputs: Any,
        config: Any = None,
        *,
        out_dir: str | Path | None = None,
        resume: bool = False,
        overwrite: bool = False,
        **kwargs,
    ) -> "SingleImageModel":
        """Train a model (also spelled ``Model.train(...)``).

        Everything that can be checked is checked before training starts: the config (finite
        numbers, the method's own rules), the inputs, and the run directory
        (:func:`~sinkit.core.training.start_run`).  The run directory's lock is held until
        this returns or raises.

        Args:
            inputs: the training image (path or ``(1, 3, H, W)`` tensor in ``[-1, 1]``), or a
                mapping of named inputs (:attr:`inputs`), e.g. ``{"image": ..., "primitive": ...}``.
                Image files larger than the config's ``max_size`` needs are decoded at reduced size.
            config: a config of :attr:`config_class`, a preset name or None (the paper defaults).
            out_dir: the run directory (checkpoints, per-scale images); None keeps everything in memory.
            resume: continue the interrupted (or finished) run in ``out_dir``.
            overwrite: replace the run in ``out_dir``, removing all its outputs first.
            kwargs: the method trainer's options (``device``, ``progress``, ``stop_after``...;
                see the method's ``_fit``).

        Raises:
            ValueError: unknown preset, missing or unknown inputs, bad values (a non-finite number).
            RunExistsError: ``out_dir`` holds a model and neither ``resume`` nor ``overwrite`` is set.
            RunDirectoryError: ``out_dir`` cannot be created or written.
            LockedError: another process is training into ``out_dir``.
            CheckpointWriteError: a checkpoint could not be written (disk full...); the previous
                one is intact, resume from it.
        """
        from .training import run_scope

        config = resolve_config(cls, config)
        check_config(config)
        inputs = cls.load_inputs(inputs, config=config)
        if out_dir is not None:
            kwargs["out_dir"] = out_dir
        if resume:
            kwargs["resume"] = resume
        with run_scope(overwrite=overwrite):
            return cls._fit(inputs, config, **kwargs)

    @classmethod
    def _fit(cls, inputs: dict[str, torch.Tensor], config: Any, **kwargs) -> "SingleImageModel":
        raise NotImplementedError(f"{cls.__name__} does not implement training")

    @classmethod
    def input_max_size(cls, config: Any) -> int | None:
        """Long side, px, beyond which the training image is only ever downscaled (None: any size
        is used as is).  Image files much larger than this are decoded at reduced size
        (:func:`~sinkit.core.io.load_image` ``max_size``).  Default: the config's ``max_size``."""
        size = getattr(config, "max_size", None)
        return int(size) if isinstance(size, (int, float)) and size > 0 else None

    @classmethod
    def load_inputs(cls, inputs: Any, *, config: Any = None) -> dict[str, torch.Tensor]:
        """Normalise ``inputs`` (one image, or a mapping name -> path / tensor) to named tensors.

        With ``config``, image files far larger than the model will use are decoded at
        reduced size (:meth:`input_max_size`): a 10000x10000 photo for a 250 px model does
        not need gigabytes of memory.

        Raises:
            ValueError: an input the method does not take, or a required one missing.
            FileNotFoundError / ImageReadError: unreadable files.
        """
        from .io import load_image, load_mask

        if not isinstance(inputs, Mapping):
            inputs = {cls.inputs[0].name: inputs}
        known = {s.name: s for s in cls.inputs}
        unknown = sorted(set(inputs) - set(known))
        if unknown:
            raise ValueError(f"{cls.method or cls.__name__} takes the inputs {', '.join(known)}, not {', '.join(unknown)}")
        out = {}
        for name, value in inputs.items():
            if value is None:
                continue
            if torch.is_tensor(value):
                out[name] = value
            elif known[name].kind == "mask":
                out[name] = load_mask(value)
            else:
                out[name] = load_image(value, max_size=None if config is None else cls.input_max_size(config))
        for spec in cls.inputs:
            if spec.required and spec.name not in out:
                flag = "IMAGE" if spec is cls.inputs[0] else f"--{spec.name.replace('_', '-')}"
                raise ValueError(f"{cls.method or cls.__name__} needs the training input {spec.name!r} ({flag}: {spec.help})")
        return out

    # ------------------------------------------------------------------ display
    def run_facts(self) -> dict[str, str]:
        """What actually ran that a results table must state beside the config, as short strings:
        e.g. PetsGAN's external prior (``{"prior": "augment"}`` when the config said ``auto``).

        ``sinkit bench`` records each as a ``ran_<key>`` column of the image's row and lists
        the values in ``summary.md``.  Default: none.
        """
        return {}

    def training_problems(self) -> list[str]:
        """What went wrong in training that a user must know before trusting the model, one line
        each (e.g. PetsGAN's IR network diverged).  ``sinkit bench`` records them in the image's
        ``problems`` column and lists them in ``summary.md`` and ``comparison.md``.  Default: none.
        """
        return []

    def describe(self) -> str:
        """Human-readable summary (what ``sinkit info`` prints)."""
        lines = [f"method        {self.method}"]
        for name, t in self.training_inputs.items():
            lines.append(f"{name:<13} {t.shape[-2]}x{t.shape[-1]} (HxW, px)")
        if not self.complete:
            lines.append("status        INCOMPLETE: training was interrupted (resume with sinkit train ... --resume)")
        if self.train_seconds:
            lines.append(f"training time {self.train_seconds:.1f} s")
        if self.sampling_fields and not self.training_free:
            values = ", ".join(f"{k}={getattr(self.config, k)}" for k in self.sampling_fields)
            lines.append(f"sampling      {values} (change with sinkit sample --set)")
        return "\n".join(lines)


def _compare_state(expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor]):
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    shapes = sorted(
        f"{k} {tuple(given[k].shape)} vs {tuple(expected[k].shape)}"
        for k in set(expected) & set(given)
        if tuple(expected[k].shape) != tuple(given[k].shape)
    )
    return missing, unexpected, shapes

