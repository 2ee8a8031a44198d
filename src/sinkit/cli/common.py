"""Pieces shared by the CLI commands: option types, scale parsing, config overrides, friendly errors,
interruption, the memory guard and the incomplete-model check."""

from __future__ import annotations

import contextlib
import functools
import math
import signal
from pathlib import Path
from typing import Any, Callable

import click

__all__ = [
    "DEVICE_OPTION",
    "MAX_MEMORY_OPTION",
    "ALLOW_INCOMPLETE_OPTION",
    "COUNT",
    "POSITIVE",
    "NON_NEGATIVE",
    "bad_parameter",
    "guard_memory",
    "interruptible",
    "parse_scale",
    "parse_scales",
    "parse_set",
    "friendly_errors",
    "echo_path",
    "load_model",
]

DEVICE_OPTION = click.option(
    "--device",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "cpu", "cuda", "mps"]),
    help="Where to run: auto picks CUDA, then MPS, then CPU.",
)

MAX_MEMORY_OPTION = click.option(
    "--max-memory",
    default=None,
    metavar="SIZE",
    help="Refuse requests estimated to need more memory than this (e.g. 8G; 0 = no limit).  "
    "[default: $SINKIT_MAX_MEMORY, else the memory available now]",
)

ALLOW_INCOMPLETE_OPTION = click.option(
    "--allow-incomplete",
    is_flag=True,
    help="Use a model whose training was interrupted (its outputs stop at the last trained scale).",
)


class _Finite(click.ParamType):
    """A finite float (no nan / inf) above ``low`` (or at least it, with ``closed``)."""

    def __init__(self, low: float, closed: bool):
        self.low, self.closed = low, closed
        self.name = f"float {'>=' if closed else '>'} {low:g}"

    def convert(self, value, param, ctx):
        try:
            v = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(v) or v < self.low or (v == self.low and not self.closed):
            self.fail(f"{value} is not a finite number {'>=' if self.closed else '>'} {self.low:g}", param, ctx)
        return v


#: a count (number of samples, frames, batch size): an integer >= 1
COUNT = click.IntRange(min=1)
#: a finite number > 0 (a size factor, fps)
POSITIVE = _Finite(0.0, closed=False)
#: a finite number >= 0 (a blur sigma, a radius)
NON_NEGATIVE = _Finite(0.0, closed=True)


@contextlib.contextmanager
def bad_parameter(param_hint: str | None):
    """Turn a library's ``ValueError`` inside the block into ``click.BadParameter`` for ``param_hint``:
    click prints one line, ``Invalid value for <param_hint>: <the library's message>``, and exits 2."""
    try:
        yield
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint=param_hint) from None


def parse_scale(text: str | int, num_scales: int, valid: range | None = None, param_hint: str | None = None) -> int:
    """:func:`sinkit.core.scales.parse_scale` with a ``click.BadParameter`` instead of a ``ValueError``."""
    from ..core.scales import parse_scale as parse

    with bad_parameter(param_hint):
        return parse(text, num_scales, valid)


def parse_scales(text: str, num_scales: int, valid: range | None = None, param_hint: str | None = None) -> list[int]:
    """:func:`sinkit.core.scales.parse_scales` with a ``click.BadParameter`` instead of a ``ValueError``."""
    from ..core.scales import parse_scales as parse

    with bad_parameter(param_hint):
        return parse(text, num_scales, valid)


def parse_set(items, config) -> dict[str, Any]:
    """``--set KEY=VALUE`` options as config overrides (:func:`sinkit.core.config.parse_overrides`).

    Raises:
        click.BadParameter: malformed item, unknown field or a value of the wrong type.
    """
    from ..core.config import parse_overrides

    with bad_parameter("--set"):
        return parse_overrides(items, config)


def error_line(err: BaseException) -> str:
    """One line for an expected error: the library's own message, or the system's reason and the
    path for an ``OSError`` (``"Not a directory: out/x"`` rather than ``"[Errno 20] ..."``)."""
    from ..core.errors import SinkitError

    if isinstance(err, OSError) and not isinstance(err, SinkitError) and err.strerror:
        paths = [str(p) for p in (err.filename, err.filename2) if p is not None]
        text = err.strerror + (f": {' -> '.join(paths)}" if paths else "")
    elif isinstance(err, MemoryError) and not isinstance(err, SinkitError) or _is_oom(err):
        text = f"out of memory ({str(err).splitlines()[0] if str(err) else type(err).__name__}); ask for fewer or smaller outputs (a smaller --batch-size, --num or size)"
    else:
        text = str(err) or type(err).__name__
    return " ".join(text.split())  # one line, whatever the message held


def _is_oom(err: BaseException) -> bool:
    import torch

    oom = getattr(torch, "OutOfMemoryError", None)
    if oom is not None and isinstance(err, oom):
        return True
    return isinstance(err, RuntimeError) and "can't allocate memory" in str(err)


def friendly_errors(fn):
    """Turn the library's expected errors (bad files, bad checkpoints, unsupported requests, bad values,
    system errors such as a full disk, memory exhaustion) into one-line CLI errors (exit code 1)."""
    from ..core.errors import SinkitError

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (SinkitError, ValueError, OSError, MemoryError) as err:
            raise click.ClickException(error_line(err)) from err
        except RuntimeError as err:
            if _is_oom(err):
                raise click.ClickException(error_line(err)) from err
            raise

    return wrapper


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or a termination signal while a command runs; ``signum`` says which."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def interruptible(message: Callable[[int], str]):
    """Treat SIGTERM like Ctrl-C, and turn either into ONE line on stderr and the exit code
    ``128 + signal`` (130 after Ctrl-C, 143 after SIGTERM) instead of click's bare "Aborted!".

    Args:
        message: ``signum -> line``, e.g. how to resume the interrupted run.
    """

    def on_term(signum, frame):
        raise Interrupted(signum)

    try:
        previous = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread: signals cannot be handled here
        previous = None
    try:
        yield
    except KeyboardInterrupt as err:
        signum = getattr(err, "signum", signal.SIGINT)
        try:
            on_int = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the message
        except ValueError:
            on_int = None
        try:
            click.echo(message(signum), err=True)
        finally:
            if on_int is not None:
                signal.signal(signal.SIGINT, on_int)
        raise click.exceptions.Exit(128 + int(signum)) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def guard_memory(model, size: tuple[int, int], *, outputs: int = 1, batch: int = 1, what: str, hint: str, max_memory: str | None) -> None:
    """Refuse (one line, exit 1) a request whose estimated peak memory is above the limit
    (:func:`sinkit.core.resources.check_memory`; ``model.estimate_memory`` is the method's estimate).

    Args:
        size: ``(height, width)`` of each output, px.
        outputs: outputs kept in memory at the end; ``batch``: produced per forward pass.
        what: the request for the message (``"8 samples of 400x600 px"``).
        hint: what to change (``"use a smaller --batch-size or --scale-h/--scale-v"``).
        max_memory: the ``--max-memory`` option.
    """
    from ..core.resources import check_memory

    with bad_parameter("--max-memory"):  # an unparsable value
        check_memory(model.estimate_memory(size, batch=batch, outputs=outputs), what, max_memory=max_memory, device=model.device, hint=hint)


def echo_path(label: str, path: str | Path) -> None:
    click.echo(f"{label:<14} {Path(path).resolve()}")


def load_model(path: str, device: str, *, method: str | None = None, preset: str | None = None, allow_incomplete: bool = False,
               overrides: list[str] | tuple[str, ...] = ()):
    """The model at ``path``: a model directory, or an image file for a training-free method.

    Args:
        path: a directory written by ``sinkit train``, or an image when ``method`` is a
            training-free method (the image is the model: it is built on the spot).
        device: ``auto``, ``cpu``, ``cuda`` or ``mps``.
        method: with an image: the method to build.
        preset: with an image: its preset (default ``paper``).
        allow_incomplete: accept a model whose training was interrupted (with a warning);
            without it such a model is refused.
        overrides: ``--set KEY=VALUE`` items: with an image, any field of the method's config (the
            model is built with them); with a model directory, its sampling options
            (:meth:`~sinkit.core.model.SingleImageModel.set_sampling_options`).

    Raises:
        click.ClickException: an image without ``--method``, or with a method that needs
            training; an incomplete model without ``allow_incomplete``.
        click.BadParameter: an override the config or the model refuses (``--set``).
    """
    from ..core.config import replace_config, resolve_config
    from ..core.registry import get_method, load

    p = Path(path)
    if p.is_dir():
        model = load(p, device=device)
        if method is not None and model.method != method:
            raise click.ClickException(f"{path} holds a {model.method} model, not {method}: drop --method")
        if not model.complete:
            _incomplete(model, path, allow_incomplete)
        if overrides:
            with bad_parameter("--set"):
                model = model.set_sampling_options(**parse_set(overrides, model.config))
        return model
    if method is None:
        raise click.ClickException(
            f"{path} is a file, not a model directory: train a model first (sinkit train {path} --out runs/x), "
            "or give --method with a training-free method, whose model is the image itself"
        )
    cls = get_method(method)
    if not cls.training_free:
        raise click.ClickException(f"{method} needs training: run sinkit train {path} --method {method} --out runs/x, then use runs/x")
    config = resolve_config(cls, preset or "paper")
    if overrides:
        with bad_parameter("--set"):
            config = replace_config(config, **parse_set(overrides, config))
    return cls.fit(path, config, device=device, progress=False)


def _incomplete(model, path: str, allow: bool) -> None:
    from ..core.training import progress_of

    done = progress_of(model)
    sizes = getattr(getattr(model, "spec", None), "sizes", None)
    effect = ""
    if sizes and hasattr(model, "output_size"):
        h, w = model.output_size()
        effect = f": outputs are {h}x{w} px instead of {sizes[-1][0]}x{sizes[-1][1]}"
    if allow:
        click.echo(f"warning: {path} is an INCOMPLETE model (training stopped at {done}){effect}", err=True)
        return
    raise click.ClickException(
        f"{path} is an INCOMPLETE model (training stopped at {done}){effect}; finish it with "
        f"sinkit train IMAGE --out {path} --resume, or pass --allow-incomplete"
    )
