"""Resource guards: refuse a request whose estimated peak memory is above a limit, before running it.

Fully convolutional models produce outputs of any size, so ``sinkit sample
--scale-h 100 --scale-v 100`` on a 40 px model asks for gigabytes without a
word of warning, and a large ``--num`` with a large batch dies in the
allocator.  Commands therefore ask the model for an estimate first
(:meth:`~sinkit.core.model.SingleImageModel.estimate_memory`, a method hook with
a generic default) and compare it with a limit:

* ``--max-memory SIZE`` on the command, else
* the ``SINKIT_MAX_MEMORY`` environment variable (``8G``, ``512M``, ``0`` or ``off`` = no limit), else
* the memory available now (Linux ``MemAvailable``; on a GPU, its free memory).

Over the limit: a :class:`ResourceLimitError` with the estimate, the limit, where the
limit came from and what to change.
"""

from __future__ import annotations

import math
import os
import re

import torch

from .errors import SinkitError

__all__ = ["ResourceLimitError", "MEMORY_ENV", "parse_size", "format_size", "available_memory", "memory_limit", "check_memory"]

#: environment variable holding the memory limit
MEMORY_ENV = "SINKIT_MAX_MEMORY"

_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


class ResourceLimitError(SinkitError, MemoryError):
    """A request would need more memory than allowed (the message gives the estimate and the limit).

    Attributes:
        estimate: estimated peak, bytes.
        limit: the limit, bytes.
    """

    def __init__(self, message: str, estimate: int = 0, limit: int = 0):
        super().__init__(message)
        self.estimate = estimate
        self.limit = limit


def parse_size(text: str | int | float) -> int | None:
    """``"8G"``, ``"512MiB"``, ``"1.5GB"``, ``"2000000"`` -> bytes (binary units); ``"0"``/``"off"``/``"none"`` -> None (no limit).

    Example:
        >>> parse_size("512M"), parse_size("1.5G"), parse_size("off")
        (536870912, 1610612736, None)

    Raises:
        ValueError: not a size.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value, unit = float(text), ""
    else:
        s = str(text).strip().upper()
        if s in ("0", "OFF", "NONE", "NO", "UNLIMITED"):
            return None
        m = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)\s*([KMGT]?)(?:I?B)?", s)
        if not m:
            raise ValueError(f"not a memory size: {text!r} (examples: 8G, 512M, 0 = no limit)")
        value, unit = float(m.group(1)), m.group(2)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"not a memory size: {text!r}")
    if value == 0:
        return None
    return int(value * _UNITS[unit])


def format_size(num_bytes: float) -> str:
    """``1536 * 2**20`` -> ``"1.5 GiB"``."""
    for unit, factor in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if num_bytes >= factor:
            return f"{num_bytes / factor:.1f} {unit}"
    return f"{int(num_bytes)} B"


def available_memory(device: torch.device | str = "cpu") -> int | None:
    """Bytes that can be allocated now: a GPU's free memory, or the system's ``MemAvailable``
    (Linux; elsewhere the physical memory), or None when unknown."""
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def memory_limit(max_memory: str | int | None = None, device: torch.device | str = "cpu") -> tuple[int | None, str]:
    """The limit in bytes (None: no limit) and where it comes from, for messages.

    Args:
        max_memory: the user's explicit limit (``--max-memory``); None falls back to
            ``SINKIT_MAX_MEMORY``, then to :func:`available_memory`.

    Raises:
        ValueError: an unparsable limit.
    """
    if max_memory is not None:
        return parse_size(max_memory), "--max-memory"
    env = os.environ.get(MEMORY_ENV)
    if env:
        try:
            return parse_size(env), MEMORY_ENV
        except ValueError:
            raise ValueError(f"{MEMORY_ENV}={env!r} is not a memory size (examples: 8G, 512M, 0 = no limit)") from None
    return available_memory(device), "the memory available now"


def check_memory(
    estimate: int,
    what: str,
    *,
    max_memory: str | int | None = None,
    device: torch.device | str = "cpu",
    hint: str = "ask for fewer or smaller outputs",
) -> None:
    """Raise :class:`ResourceLimitError` when ``estimate`` bytes exceed the limit (:func:`memory_limit`).

    Args:
        estimate: estimated peak memory of the request, bytes.
        what: the request, e.g. ``"4 samples of 4000x6000 px (batches of 4)"``.
        max_memory: explicit limit (see :func:`memory_limit`).
        device: where it would run.
        hint: what to change, e.g. ``"use a smaller --batch-size or --scale-h/--scale-v"``.

    Raises:
        ResourceLimitError: ``"4 samples of 4000x6000 px need about 28.4 GiB of memory (estimate),
            above the limit of 11.0 GiB (the memory available now); use a smaller --batch-size ..., or
            raise the limit with --max-memory or SINKIT_MAX_MEMORY"``.
    """
    limit, source = memory_limit(max_memory, device)
    if limit is None or estimate <= limit:
        return
    raise ResourceLimitError(
        f"{what} would need about {format_size(estimate)} of memory (estimate), above the limit of "
        f"{format_size(limit)} ({source}); {hint}, or raise the limit with --max-memory or {MEMORY_ENV} (0 = no limit)",
        estimate,
        limit,
    )
