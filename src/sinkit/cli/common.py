"""Pieces shared by the CLI commands: option types, scale parsing, friendly errors."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import click

__all__ = ["DEVICE_OPTION", "parse_scale", "parse_scales", "friendly_errors", "echo_path"]

DEVICE_OPTION = click.option(
    "--device",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "cpu", "cuda", "mps"]),
    help="Where to run: auto picks CUDA, then MPS, then CPU.",
)


def parse_scale(text: str | int, num_scales: int, valid: range | None = None) -> int:
    """Parse a scale given as an index from the coarsest (``2``) or in paper notation (``N-2``).

    Index 0 is the coarsest scale, i.e. the paper's ``N``; ``N-k`` is index ``k``.

    Raises:
        click.BadParameter: unparsable, or outside ``valid`` (the message lists the valid range).
    """
    valid = valid if valid is not None else range(num_scales)
    s = str(text).strip().replace(" ", "")
    m = re.fullmatch(r"N(?:-(\d+))?", s, flags=re.IGNORECASE)
    if m:
        index = int(m.group(1) or 0)
    elif re.fullmatch(r"\d+", s):
        index = int(s)
    else:
        raise click.BadParameter(f"{text!r} is not a scale; use an index (0 = coarsest) or N, N-1, ...")
    if index not in valid:
        raise click.BadParameter(
            f"scale {text} is outside the valid range {valid.start}..{valid.stop - 1} "
            f"(indices from the coarsest; paper notation N-{valid.start}..N-{valid.stop - 1})"
        )
    return index


def parse_scales(text: str, num_scales: int, valid: range | None = None) -> list[int]:
    """Comma-separated scales, or ``all`` for every valid one."""
    valid = valid if valid is not None else range(num_scales)
    if text.strip().lower() == "all":
        return list(valid)
    return [parse_scale(t, num_scales, valid) for t in text.split(",") if t.strip()]


def friendly_errors(fn):
    """Turn the library's expected errors (bad files, bad checkpoints, bad values) into one-line CLI errors."""
    from ..core.checkpoint import CheckpointError
    from ..core.io import ImageReadError

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (FileNotFoundError, ImageReadError, CheckpointError, ValueError) as err:
            raise click.ClickException(str(err)) from err

    return wrapper


def echo_path(label: str, path: str | Path) -> None:
    click.echo(f"{label:<14} {Path(path).resolve()}")
