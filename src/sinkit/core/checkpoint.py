"""Checkpoints: a directory with ``model.safetensors`` (tensors) and ``config.json`` (metadata).

The JSON metadata is also embedded in the safetensors header, so the weights
file alone is self-consistent and is replaced atomically (write to a temporary
file, fsync, ``os.replace``, fsync the folder): a crash mid-write leaves the
previous checkpoint intact, and the temporary file it leaves behind is removed
by the next save or load (:func:`remove_orphans`).  ``config.json`` is a
human-readable mirror written after it.  A failed write (disk full, I/O error)
is a :class:`CheckpointWriteError` that says whether the previous checkpoint
survived; files get the usual ``0666 & ~umask`` permissions.

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
from safetensors.torch import load_file, save

from .errors import SinkitError

__all__ = ["CheckpointError", "CheckpointWriteError", "remove_orphans", "save_checkpoint", "load_checkpoint", "read_metadata", "FORMAT_VERSION", "TRAINING_STATE_PREFIX"]

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
_META_KEY = "sinkit"
#: tensors of an unfinished run's optimizer / scheduler / RNG state carry this prefix (not model weights)
TRAINING_STATE_PREFIX = "trainer."


class CheckpointError(SinkitError, RuntimeError):
    """A checkpoint directory is missing pieces, corrupt, or does not match what is asked of it."""


class CheckpointWriteError(CheckpointError):
    """A checkpoint could not be written (disk full, I/O error, read-only or locked folder).

    The previous checkpoint in the folder, if any, is intact: the new one is
    written to a temporary file that replaces it only once complete.

    Attributes:
        errno: the operating system's error number (``errno.ENOSPC``...), or None.
    """

    def __init__(self, message: str, errno: int | None = None):
        super().__init__(message)
        self.errno = errno


#: temporary files of an unfinished write (a process killed while saving leaves one behind)
TEMP_PATTERNS = (f".{WEIGHTS_FILE}.*.tmp", f".{CONFIG_FILE}.*.tmp")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder: fsync, then rename over
    ``path`` (atomic), then fsync the folder.  The file gets the permissions of any other output
    (``0666 & ~umask``, usually 0644), not ``mkstemp``'s 0600."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # e.g. platforms without directory handles: the rename is still atomic
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def remove_orphans(directory: str | os.PathLike) -> list[Path]:
    """Delete the temporary files left by a write that never finished (a process killed while
    saving), unless another live process holds the folder's lock (it may be writing them now).

    Returns:
        The files removed (none when the folder is locked by another process or unwritable).
    """
    from .locks import LOCK_NAME, holder

    directory = Path(directory)
    if not directory.is_dir() or holder(directory / LOCK_NAME) is not None:
        return []
    removed = []
    for pattern in TEMP_PATTERNS:
        for tmp in directory.glob(pattern):
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:  # read-only folder, or gone already
                pass
    return removed


def save_checkpoint(directory: str | os.PathLike, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> Path:
    """Write ``tensors`` and JSON-serialisable ``metadata`` to ``directory`` atomically.

    The folder's lock is held while writing (one writer per folder; re-entrant for the
    training process that already holds it), and temporary files of an earlier
    interrupted write are removed.

    Returns:
        The directory path.

    Raises:
        CheckpointWriteError: the folder cannot be created or written (disk full, I/O error,
            permissions); the previous checkpoint is left as it was.
        LockedError: another process is writing the folder.
    """
    from .locks import lock_directory

    directory = Path(directory)
    metadata = {"format_version": FORMAT_VERSION, **metadata}
    text = json.dumps(metadata, indent=2, sort_keys=True)
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    data = save(cpu, metadata={_META_KEY: text})
    stage = "weights"
    try:
        with lock_directory(directory, action="save a checkpoint"):
            remove_orphans(directory)
            _atomic_write(directory / WEIGHTS_FILE, data)
            stage = "mirror"
            _atomic_write(directory / CONFIG_FILE, (text + "\n").encode())
    except OSError as err:
        reason = err.strerror or str(err)
        if stage == "mirror":
            kept = f"the checkpoint itself ({WEIGHTS_FILE}) was saved, only its {CONFIG_FILE} copy of the metadata is stale"
        elif (directory / WEIGHTS_FILE).exists():
            kept = "the previous checkpoint there is intact"
        else:
            kept = "nothing was saved"
        raise CheckpointWriteError(f"cannot save the checkpoint in {directory}: {reason}; {kept}", err.errno) from err
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
    if weights.parent.is_dir():
        remove_orphans(weights.parent)
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

