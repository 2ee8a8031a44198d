"""Checkpoints: a directory with ``model.safetensors`` (tensors) and ``config.json`` (metadata).

The JSON metadata is also embedded in the safetensors header, so the weights
file alone is self-consistent and is replaced atomically (write to a temporary
file, fsync, ``os.replace``): a crash mid-write leaves the previous checkpoint
intact.  ``config.json`` is a human-readable mirror written after it.

Nothing is ever unpickled: safetensors stores raw tensors and the metadata is
JSON.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .errors import SinkitError

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint", "read_metadata", "FORMAT_VERSION", "TRAINING_STATE_PREFIX"]

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
_META_KEY = "sinkit"
#: tensors of an unfinished run's optimizer / scheduler / RNG state carry this prefix (not model weights)
TRAINING_STATE_PREFIX = "trainer."


class CheckpointError(SinkitError, RuntimeError):
    """A checkpoint directory is missing pieces, corrupt, or does not match what is asked of it."""


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_checkpoint(directory: str | os.PathLike, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> Path:
    """Write ``tensors`` and JSON-serialisable ``metadata`` to ``directory`` atomically.

    Returns:
        The directory path.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    metadata = {"format_version": FORMAT_VERSION, **metadata}
    text = json.dumps(metadata, indent=2, sort_keys=True)
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    _atomic_write(directory / WEIGHTS_FILE, lambda p: save_file(cpu, p, metadata={_META_KEY: text}))

    def write_json(p):
        with open(p, "w") as fh:
            fh.write(text + "\n")

    _atomic_write(directory / CONFIG_FILE, write_json)
    return directory


def read_metadata(directory: str | os.PathLike) -> dict[str, Any]:
    """Read only the metadata of a checkpoint (fast: no tensors are loaded).

    Raises:
        FileNotFoundError: no such directory / no weights file.
        CheckpointError: the file is corrupt or not a sinkit checkpoint.
    """
    weights = _weights_path(directory)
    try:
        with open(weights, "rb") as fh:
            header_len = int.from_bytes(fh.read(8), "little")
            if not 0 < header_len < 100_000_000:
                raise ValueError("bad header length")
            header = json.loads(fh.read(header_len))
        text = header["__metadata__"][_META_KEY]
        meta = json.loads(text)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"corrupt or foreign checkpoint file {weights}: cannot read sinkit metadata ({err})") from err
    return _check_version(meta, weights)


def load_checkpoint(
    directory: str | os.PathLike, device: str | torch.device = "cpu"
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load ``(tensors, metadata)`` from a checkpoint directory.

    Raises:
        FileNotFoundError: the directory or its ``model.safetensors`` is missing.
        CheckpointError: the file is truncated / corrupt or written by an
            incompatible sinkit version.
    """
    meta = read_metadata(directory)
    weights = _weights_path(directory)
    try:
        tensors = load_file(str(weights), device=str(device))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"corrupt checkpoint file {weights}: {err}") from err
    return tensors, meta


def _weights_path(directory: str | os.PathLike) -> Path:
    directory = Path(directory)
    if not directory.exists():
        raise FileNotFoundError(f"checkpoint directory not found: {directory}")
    weights = directory / WEIGHTS_FILE if directory.is_dir() else directory
    if not weights.exists():
        raise FileNotFoundError(
            f"no {WEIGHTS_FILE} in {directory}: not a sinkit model directory, or training "
            "has not finished its first scale yet"
        )
    return weights


def _check_version(meta: dict[str, Any], weights: Path) -> dict[str, Any]:
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{weights} has checkpoint format {version!r}; this sinkit reads format {FORMAT_VERSION}"
        )
    if "method" not in meta:
        raise CheckpointError(f"{weights} does not say which method wrote it (no 'method' in metadata)")
    return meta

