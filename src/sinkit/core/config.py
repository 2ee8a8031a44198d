"""Helpers shared by every method's frozen config dataclass: JSON round trip and overrides."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, TypeVar

__all__ = ["config_to_dict", "config_from_dict", "replace_config", "resolve_config"]

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
