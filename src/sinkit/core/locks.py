"""One writer per directory: lock files naming their holder, taken over when the holder is dead.

A lock is a small file created with ``O_EXCL`` that holds ``host:pid`` of the
process that owns it.  ``sinkit train`` holds ``<run>/.sinkit.lock`` while it
trains (and :meth:`~sinkit.core.model.SingleImageModel.save` while it writes), and
``sinkit bench`` claims each image with ``per_image/<image>.lock``, so two
processes never write the same run: the second one gets a :class:`LockedError`
that names the holder's PID.

A lock whose process has died (SIGKILL, power loss, OOM killer) is *stale*: a
process on the same host takes it over.  A lock written on another host (a
shared network folder) cannot be checked and is respected; the error message
names the file to delete if that host is gone.

The takeover renames the stale file to a name unique to the taker before
creating a new lock, so of several processes that find the same stale lock
only one wins.
"""

from __future__ import annotations

import errno
import os
import socket
import threading
import time
from pathlib import Path

from .errors import SinkitError

__all__ = ["LockedError", "LOCK_NAME", "claim", "release", "holder", "DirectoryLock", "lock_directory"]

#: the lock file ``sinkit train`` keeps in a run directory while it writes there
LOCK_NAME = ".sinkit.lock"

_HELD: dict[str, int] = {}  # lock path -> how many times this process holds it (re-entrant)
_GUARD = threading.Lock()


def _forget_after_fork() -> None:
    """A forked child holds none of its parent's locks (the files name the parent's PID)."""
    global _GUARD
    _HELD.clear()
    _GUARD = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


class LockedError(SinkitError, RuntimeError):
    """Another live process is writing the directory (the message names its PID and host).

    Attributes:
        owner: the holder as ``host:pid``.
        lock: the lock file.
    """

    def __init__(self, message: str, owner: str = "", lock: Path | None = None):
        super().__init__(message)
        self.owner = owner
        self.lock = lock


def _me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def _read(lock: Path) -> str | None:
    try:
        return lock.read_text().strip()
    except FileNotFoundError:
        return None
    except OSError:
        return ""


def _stale(owner: str, lock: Path) -> bool:
    """True when ``owner`` (``host:pid``) is a process of this host that no longer runs, or this
    process itself holding a lock it has no record of (left by a run that ended without releasing)."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return str(lock) not in _HELD
    return not _alive(int(pid))


def claim(lock: str | os.PathLike) -> str | None:
    """Take ``lock`` for this process; return the owner (``host:pid``) when another live process holds it.

    Re-entrant within a process: claiming a lock this process holds counts it
    once more (:func:`release` as often).  A stale lock (its process is dead,
    same host) is taken over.  The folder is created if needed.

    Returns:
        None when the lock is now ours, else its holder (``"unknown"`` when unreadable).
    """
    lock = Path(lock).absolute()
    key = str(lock)
    with _GUARD:
        if _HELD.get(key):
            _HELD[key] += 1
            return None
        lock.parent.mkdir(parents=True, exist_ok=True)
        me = _me()
        for _ in range(5):
            try:
                _create(lock, me)
            except FileExistsError:
                owner = _read(lock)
                if owner is None:  # released between our attempt and the read: try again
                    continue
                if (owner and _stale(owner, lock)) or (owner == "" and _older_than(lock, 10.0)):
                    _take_over(lock, owner)  # a dead holder, or an empty lock a crash left half-made
                    continue
                return owner or "unknown"
            _HELD[key] = 1
            return None
        return _read(lock) or "unknown"


def _create(lock: Path, content: str) -> None:
    """Create ``lock`` holding ``content``, atomically: nobody ever reads it empty.  The content is
    written to a file of our own, then hard-linked to the lock's name (fails if it exists); where
    hard links are not supported, ``O_EXCL`` creation then a write.

    Raises:
        FileExistsError: the lock exists.
    """
    tmp = lock.with_name(f"{lock.name}.{socket.gethostname()}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(content)
        try:
            os.link(tmp, lock)
            return
        except FileExistsError:
            raise
        except OSError:  # no hard links on this filesystem
            pass
    finally:
        tmp.unlink(missing_ok=True)
    fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    with os.fdopen(fd, "w") as fh:
        fh.write(content)


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime > seconds
    except OSError:
        return False


def _take_over(lock: Path, owner: str) -> None:
    """Remove the stale ``lock`` of ``owner`` unless another process replaced it meanwhile."""
    grave = lock.with_name(f"{lock.name}.stale.{os.getpid()}")
    try:
        os.rename(lock, grave)  # atomic: of several takers, one renames the stale file
    except FileNotFoundError:
        return
    if _read(grave) != owner:  # we moved a fresh lock of a process that took over first: put it back
        try:
            os.link(grave, lock)
        except FileExistsError:
            pass
    grave.unlink(missing_ok=True)


def release(lock: str | os.PathLike) -> None:
    """Give back a lock taken with :func:`claim` (the file is removed at the last release)."""
    lock = Path(lock).absolute()
    key = str(lock)
    with _GUARD:
        count = _HELD.get(key, 0)
        if count > 1:
            _HELD[key] = count - 1
            return
        _HELD.pop(key, None)
        if _read(lock) == _me():
            lock.unlink(missing_ok=True)


def holder(lock: str | os.PathLike) -> str | None:
    """The live holder of ``lock`` other than this process (``host:pid``), or None when it is free,
    stale or ours.  Does not take it."""
    lock = Path(lock).absolute()
    if str(lock) in _HELD:
        return None
    owner = _read(lock)
    if not owner or _stale(owner, lock):
        return None
    return owner


def _describe(owner: str) -> str:
    host, _, pid = owner.rpartition(":")
    if not pid.isdigit():
        return f"another process ({owner})"
    return f"process {pid}" + ("" if host == socket.gethostname() else f" on host {host}")


class DirectoryLock:
    """Context manager: hold ``<directory>/.sinkit.lock`` (re-entrant within the process).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d, DirectoryLock(d):
        ...     pass

    Raises:
        LockedError: another live process holds it:
            ``"<dir> is being written by process 1234 (lock file <dir>/.sinkit.lock); wait for it to
            finish or stop it"``.
        OSError: the directory cannot be created or written (e.g. it is under a regular file).
    """

    def __init__(self, directory: str | os.PathLike, *, action: str = "write"):
        self.directory = Path(directory)
        self.lock = self.directory / LOCK_NAME
        self.action = action
        self._held = False

    def acquire(self) -> "DirectoryLock":
        try:
            owner = claim(self.lock)
        except OSError as err:
            if err.errno in (errno.ENOTDIR, errno.EEXIST, errno.EACCES, errno.EROFS, errno.EPERM):
                raise OSError(err.errno, f"cannot {self.action} in {self.directory}: {os.strerror(err.errno)}", str(self.directory)) from err
            raise
        if owner is not None:
            host, _, pid = owner.rpartition(":")
            stale_hint = f"; if no such process runs on {host}, delete {self.lock}" if host != socket.gethostname() else ""
            raise LockedError(
                f"{self.directory} is being written by {_describe(owner)} (lock file {self.lock}); "
                f"wait for it to finish or stop it{stale_hint}",
                owner,
                self.lock,
            )
        self._held = True
        return self

    def release(self) -> None:
        if self._held:
            self._held = False
            release(self.lock)

    def __enter__(self) -> "DirectoryLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def lock_directory(directory: str | os.PathLike, *, action: str = "write") -> DirectoryLock:
    """:class:`DirectoryLock` for ``directory`` (a function for ``with lock_directory(d): ...``)."""
    return DirectoryLock(directory, action=action)
