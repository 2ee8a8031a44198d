"""What the registered methods offer the page, read from the registry and the model classes.

No method is named here: the page lists :func:`~sinkit.core.registry.available_methods`
with each class's presets, named training inputs (``InputSpec``), options
(``OptionSpec``), capabilities and ``training_free`` flag, so a method that lands
later (a translator with a ``primitive`` input, a training-free patch method)
appears with its own controls.  Building the config of a job follows ``sinkit
train`` exactly (preset, ``sr_config`` for ``--task sr``, generic and method
options, ``--set`` overrides), and :func:`cli_command` writes the equivalent
command line.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..core.capabilities import describe_capabilities
from ..core.config import config_to_dict, parse_overrides, replace_config, resolve_config
from ..core.model import InputSpec, OptionSpec
from ..core.registry import available_methods, get_method

__all__ = ["MethodInfo", "catalogue", "default_preset", "COMMON_FIELDS", "build_config", "cli_command"]

#: config fields the page offers as plain controls when a method's config has them
#: (the same generic options as ``sinkit train --iters / --max-size / --seed``)
COMMON_FIELDS = ("iters", "max_size", "seed")


@dataclass(frozen=True)
class MethodInfo:
    """One registered method as the page shows it.

    Attributes:
        name: registry name.
        presets: preset names (``paper`` = official defaults).
        inputs: named training inputs; the first is the uploaded image.
        options: method-specific settings (``sinkit train`` options).
        capabilities: short names (``sample``, ``translate``, ...).
        training_free: the model is the image itself (training only stores it).
        usage: the method's one-line description.
        can_sr: has a super-resolution configuration (``sinkit train --task sr``).
        common: which of :data:`COMMON_FIELDS` its config has.
    """

    name: str
    presets: tuple[str, ...]
    inputs: tuple[InputSpec, ...]
    options: tuple[OptionSpec, ...]
    capabilities: tuple[str, ...]
    training_free: bool
    usage: str
    can_sr: bool
    common: tuple[str, ...]

    def label(self) -> str:
        caps = ", ".join(self.capabilities) or "-"
        return f"{self.name} ({'training-free; ' if self.training_free else ''}{caps})"


def catalogue() -> dict[str, MethodInfo]:
    """Every registered method, by name (sorted)."""
    out = {}
    for name in available_methods():
        cls = get_method(name)
        base = resolve_config(cls, "paper") if "paper" in cls.presets else cls.config_class()
        fields = {f.name for f in dataclasses.fields(base)}
        out[name] = MethodInfo(
            name=name,
            presets=tuple(cls.presets) or ("paper",),
            inputs=tuple(cls.inputs),
            options=tuple(cls.options),
            capabilities=tuple(describe_capabilities(cls)),
            training_free=bool(cls.training_free),
            usage=cls.usage,
            can_sr=hasattr(cls, "sr_config"),
            common=tuple(f for f in COMMON_FIELDS if f in fields),
        )
    return out


def default_preset(info: MethodInfo) -> str:
    """``fast`` when the method has it (a CPU-friendly preset is what a page user wants first), else the first."""
    return "fast" if "fast" in info.presets else info.presets[0]


def build_config(
    method: str,
    preset: str,
    *,
    task: str = "generate",
    factor: float = 4.0,
    values: Mapping[str, Any] | None = None,
    other: str = "",
) -> tuple[Any, dict[str, Any]]:
    """The config a job trains with, built as ``sinkit train`` builds it.

    Args:
        method: registry name.
        preset: one of the method's presets.
        task: ``generate`` or ``sr`` (the method's ``sr_config`` for ``factor``).
        factor: upscaling factor of an ``sr`` model.
        values: config fields set by the page's controls (common fields and method
            options); None / empty-string values are left at the preset's.
        other: more overrides, one ``KEY=VALUE`` per line or separated by ``;``
            (as ``sinkit train --set``).

    Returns:
        ``(config, overrides)``: the frozen config, and every field that differs from the
        preset's (for the equivalent ``--set`` options).

    Raises:
        ValueError: unknown method / preset, a method without super-resolution asked for
            ``sr``, an unknown field or a value of the wrong type (the message names it).
    """
    cls = get_method(method)
    base = resolve_config(cls, preset)
    if task == "sr":
        if not hasattr(cls, "sr_config"):
            raise ValueError(f"{method} has no super-resolution configuration")
        base = cls.sr_config(base, float(factor))
    elif task != "generate":
        raise ValueError(f"task must be 'generate' or 'sr', got {task!r}")
    fields = {f.name for f in dataclasses.fields(base)}
    items = []
    for key, value in (values or {}).items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if key not in fields:
            raise ValueError(f"{method} has no setting {key!r}")
        current = getattr(base, key)
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, float) and value.is_integer() and isinstance(current, int) and not isinstance(current, bool):
            text = str(int(value))
        elif isinstance(value, (int, float)):
            text = json.dumps(value)
        else:
            text = str(value).strip()
        items.append(f"{key}={text}")
    items += [part.strip() for line in (other or "").splitlines() for part in line.split(";") if part.strip()]
    typed = parse_overrides(items, base)
    config = replace_config(base, **typed)
    preset_dict, new_dict = config_to_dict(base), config_to_dict(config)  # base: the sr config for task sr
    overrides = {k: v for k, v in new_dict.items() if preset_dict.get(k) != v}
    return config, overrides


def cli_command(run_dir: Path, method: str, preset: str, input_files: Mapping[str, Path], *, task: str = "generate", factor: float = 4.0, overrides: Mapping[str, Any] | None = None, resume: bool = False) -> str:
    """The ``sinkit train`` command line that trains (or, with ``resume``, continues) this run.

    ``input_files`` maps input names to files, the first being the positional IMAGE.
    """
    cls = get_method(method)
    names = [s.name for s in cls.inputs]
    first = input_files[names[0]]
    parts = ["sinkit", "train", str(first), "--out", str(run_dir), "--method", method, "--preset", preset]
    if task == "sr":
        parts += ["--task", "sr", "--factor", f"{factor:g}"]
    for name in names[1:]:
        if name in input_files:
            parts += [f"--{name.replace('_', '-')}", str(input_files[name])]
    for key, value in (overrides or {}).items():
        parts += ["--set", f"{key}={json.dumps(value)}"]
    if resume:
        parts.append("--resume")
    return " ".join(shlex.quote(p) for p in parts)
