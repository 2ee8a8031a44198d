"""Pieces shared by the CLI commands: option types, scale parsing, config overrides, friendly errors."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import click

__all__ = [
    "DEVICE_OPTION",
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


def parse_scale(text: str | int, num_scales: int, valid: range | None = None, param_hint: str | None = None) -> int:
    """:func:`sinkit.core.scales.parse_scale` with a ``click.BadParameter`` instead of a ``ValueError``."""
    from ..core.scales import parse_scale as parse

    try:
        return parse(text, num_scales, valid)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint=param_hint) from None


def parse_scales(text: str, num_scales: int, valid: range | None = None, param_hint: str | None = None) -> list[int]:
    """:func:`sinkit.core.scales.parse_scales` with a ``click.BadParameter`` instead of a ``ValueError``."""
    from ..core.scales import parse_scales as parse

    try:
        return parse(text, num_scales, valid)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint=param_hint) from None


def parse_set(items, config) -> dict[str, Any]:
    """``--set KEY=VALUE`` options as config overrides (:func:`sinkit.core.config.parse_overrides`).

    Raises:
        click.BadParameter: malformed item, unknown field or a value of the wrong type.
    """
    from ..core.config import parse_overrides

    try:
        return parse_overrides(items, config)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--set") from None


def friendly_errors(fn):
    """Turn the library's expected errors (bad files, bad checkpoints, unsupported requests, bad values)
    into one-line CLI errors."""
    from ..core.errors import SinkitError

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (FileNotFoundError, SinkitError, ValueError) as err:
            raise click.ClickException(str(err)) from err

    return wrapper


def echo_path(label: str, path: str | Path) -> None:
    click.echo(f"{label:<14} {Path(path).resolve()}")


def load_model(path: str, device: str, *, method: str | None = None, preset: str | None = None):
    """The model at ``path``: a model directory, or an image file for a training-free method.

    Args:
        path: a directory written by ``sinkit train``, or an image when ``method`` is a
            training-free method (the image is the model: it is built on the spot).
        device: ``auto``, ``cpu``, ``cuda`` or ``mps``.
        method: with an image: the method to build.
        preset: with an image: its preset (default ``paper``).

    Raises:
        click.ClickException: an image without ``--method``, or with a method that needs training.
    """
    from ..core.registry import get_method, load

    p = Path(path)
    if p.is_dir():
        if method is not None:
            model = load(p, device=device)
            if model.method != method:
                raise click.ClickException(f"{path} holds a {model.method} model, not {method}: drop --method")
            return model
        return load(p, device=device)
    if method is None:
        raise click.ClickException(
            f"{path} is a file, not a model directory: train a model first (sinkit train {path} --out runs/x), "
            "or give --method with a training-free method, whose model is the image itself"
        )
    cls = get_method(method)
    if not cls.training_free:
        raise click.ClickException(f"{method} needs training: run sinkit train {path} --method {method} --out runs/x, then use runs/x")
    return cls.fit(path, preset or "paper", device=device, progress=False)
