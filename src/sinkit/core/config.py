"""Helpers shared by every method's frozen config dataclass: JSON round trip and overrides."""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from typing import Any, TypeVar

__all__ = ["config_to_dict", "config_from_dict", "replace_config", "resolve_config", "parse_overrides", "check_config"]

C = TypeVar("C")


def config_to_dict(config: Any) -> dict[str, Any]:
    """A frozen config dataclass as a JSON-ready dict (tuples become lists)."""
    return {
        f.name: list(v) if isinstance(v := getattr(config, f.name), tuple) else v
        for f in dataclasses.fields(config)
    }


def config_from_dict(cls: type[C], data: dict[str, Any]) -> C:
    """Rebuild a config from :func:`config_to_dict` output.

    Raises:
        ValueError: unknown keys (a checkpoint from a different method or version).
    """
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in data.items():
        if isinstance(value, list) and "tuple" in str(hints.get(key, "")):
            value = tuple(value)
        kwargs[key] = value
    return cls(**kwargs)


def replace_config(config: C, **overrides: Any) -> C:
    """``dataclasses.replace`` that ignores ``None`` values (unset CLI options).

    Raises:
        ValueError: an override names a field the config does not have.
    """
    names = {f.name for f in dataclasses.fields(config)}
    unknown = {k for k, v in overrides.items() if v is not None} - names
    if unknown:
        raise ValueError(f"{type(config).__name__} has no option(s) {sorted(unknown)}")
    return dataclasses.replace(config, **{k: v for k, v in overrides.items() if v is not None})


def resolve_config(method_class: Any, config: Any = None) -> Any:
    """The config a method trains with: a preset name looked up in ``method_class.presets``, a
    config object of ``method_class.config_class`` as is, or None for ``method_class.config_class()``
    (the paper defaults).  The one place presets are looked up.

    Raises:
        ValueError: unknown preset (the message lists the method's presets).
        TypeError: a config object of another method.
    """
    if config is None:
        return method_class.config_class()
    if isinstance(config, str):
        try:
            return method_class.presets[config]
        except KeyError:
            name = getattr(method_class, "method", "") or method_class.__name__
            raise ValueError(f"unknown preset {config!r} for {name}; available: {', '.join(method_class.presets)}") from None
    if not isinstance(config, method_class.config_class):
        raise TypeError(f"expected a {method_class.config_class.__name__} or a preset name, got {type(config).__name__}")
    return config


def parse_overrides(items, config: Any) -> dict[str, Any]:
    """``KEY=VALUE`` strings as config overrides, each value parsed as JSON and type-checked.

    What ``sinkit train --set`` and the browser app's "other settings" box accept:
    ``d_steps=1``, ``lr_g=1e-4``, ``betas=[0.5, 0.9]``, ``noise_padding=true``; a value
    that is not JSON is taken as a string.

    Args:
        items: iterable of ``"KEY=VALUE"`` strings (``-`` in keys is read as ``_``).
        config: the config the overrides apply to (its field types are the reference).

    Returns:
        ``{field: value}``, ready for :func:`replace_config`.

    Raises:
        ValueError: an item without ``=``, an unknown field, or a value of the wrong type
            (the message names the item).

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass(frozen=True)
        ... class C:
        ...     iters: int = 10
        ...     lr: float = 1e-3
        >>> parse_overrides(["iters=5", "lr=1"], C())
        {'iters': 5, 'lr': 1.0}
    """
    fields = {f.name: f for f in dataclasses.fields(config)}
    out = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"expected KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        key = key.strip().replace("-", "_")
        value = value.strip()
        if key not in fields:
            raise ValueError(f"{type(config).__name__} has no field {key!r}; fields: {', '.join(fields)}")
        current = getattr(config, key)
        try:
            parsed = json.loads(value.lower() if isinstance(current, bool) else value)
        except json.JSONDecodeError:
            parsed = value
        if isinstance(current, tuple) and isinstance(parsed, list):
            parsed = tuple(parsed)
        elif isinstance(current, float) and isinstance(parsed, int) and not isinstance(parsed, bool):
            parsed = float(parsed)
        if current is not None and not isinstance(parsed, type(current)):
            raise ValueError(f"{key} expects {type(current).__name__}, got {value!r}")
        out[key] = parsed
    return out


def check_config(config: Any) -> Any:
    """Reject numbers no training can use, whatever the method: NaN or infinite floats (a
    ``--alpha nan`` would otherwise train for hours and produce a NaN model).

    Each method's config checks its own rules in ``__post_init__``; this is the part every
    config shares.  Returns ``config``.

    Raises:
        ValueError: ``"alpha must be a finite number, got nan"``.
    """
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        values = value if isinstance(value, (tuple, list)) else (value,)
        for v in values:
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"{f.name} must be a finite number, got {value}")
    return config
