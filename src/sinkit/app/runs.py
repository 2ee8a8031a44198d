"""The app's runs folder: safe run names, the layout of a run directory, job records, status.

A run is a normal sinkit run directory, what ``sinkit train IMAGE --out DIR``
writes, plus the page's own files::

    config.json, model.safetensors, scales/NN/*.png, samples.png   the CLI's files (sinkit.core)
    inputs/<input>.png        the training inputs as uploaded (EXIF applied, re-encoded as PNG)
    app/job.json              what to train (method, preset, full config, the equivalent CLI
                              command) and the job's status
    app/progress.json         live progress, written by the worker process
    app/train.log             the worker's output (progress bars, errors)
    outputs/<time>-<task>/    results made in the page

so ``sinkit sample RUNS/NAME``, ``sinkit edit RUNS/NAME ...`` and ``sinkit train
RUNS/NAME/inputs/image.png --out RUNS/NAME --resume ...`` work on runs made in
the page, and runs made by the CLI inside the folder appear in the page.

Run names come from users (a text box, an uploaded file's name, a request
crafted by hand), so every name is checked by :meth:`RunStore.run_dir`:
only letters, digits, ``.``, ``_`` and ``-``, no leading dot, and the resolved
directory must be a direct child of the runs folder.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.checkpoint import CheckpointError, read_metadata
from ..core.registry import load

__all__ = [
    "RunStore",
    "RunSummary",
    "sanitize_name",
    "read_json",
    "write_json",
    "STATUSES",
    "ACTIVE",
    "RESUMABLE",
]

APP_DIR = "app"
JOB_FILE = "job.json"
PROGRESS_FILE = "progress.json"
LOG_FILE = "train.log"
INPUTS_DIR = "inputs"
OUTPUTS_DIR = "outputs"
WEIGHTS_FILE = "model.safetensors"

#: every status a run can have (``done (CLI)`` runs have no job record)
STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
#: a worker is (or will be) busy with the run
ACTIVE = ("queued", "running")
#: the run can be continued from its last checkpoint
RESUMABLE = ("failed", "cancelled", "interrupted")

MAX_NAME = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def sanitize_name(text: str) -> str:
    """A run name made from free text: runs of other characters become ``-``, at most 64 characters.

    Example:
        >>> sanitize_name("My photo (1).JPG"), sanitize_name("../../etc/passwd")
        ('My-photo-1-.JPG', 'etc-passwd')

    Raises:
        ValueError: nothing usable is left (no letter or digit).
    """
    name = _UNSAFE.sub("-", str(text)).strip("-._")[:MAX_NAME].strip("-._")
    if not re.search(r"[A-Za-z0-9]", name):
        raise ValueError(f"run name {text!r} has no letters or digits")
    return name


def read_json(path: str | Path) -> dict | None:
    """A JSON file as a dict, or None when it is missing or half-written."""
    try:
        with open(path) as fh:
            data = json.load(fh)
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def write_json(path: str | Path, data: dict) -> None:
    """Write ``data`` as JSON atomically (temporary file + ``os.replace``): readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class RunSummary:
    """One row of the runs table.

    Attributes:
        name: the run's directory name.
        method: registry name of its method ("" when unknown yet).
        preset: the preset it started from ("" for runs made by the CLI: not recorded).
        status: one of :data:`STATUSES`, or ``done (CLI)`` / ``interrupted (CLI)`` for CLI runs.
        created: UNIX time the run was created (directory time for CLI runs).
        train_seconds: training wall time recorded in its checkpoint, s.
        has_model: a checkpoint exists (samples and manipulation possible).
    """

    name: str
    method: str
    preset: str
    status: str
    created: float
    train_seconds: float
    has_model: bool


class RunStore:
    """The runs folder: where each run lives, its job record, and cached loaded models.

    Args:
        root: the folder (created if needed).
        device: where models are loaded for sampling and manipulation in the page.
    """

    def __init__(self, root: str | Path, device: str = "auto"):
        root = Path(root).expanduser()
        root.mkdir(parents=True, exist_ok=True)
        self.root = root.resolve()
        self.device = device
        self._lock = threading.RLock()
        self._models: dict[str, tuple[int, Any]] = {}
        self._meta: dict[str, tuple[int, dict, bool]] = {}

    # ------------------------------------------------------------------ names and paths
    def run_dir(self, name: str) -> Path:
        """The directory of run ``name`` (it need not exist).

        Raises:
            ValueError: ``name`` is not a plain run name: empty, a path, ``..``, hidden, or
                containing characters outside ``A-Z a-z 0-9 . _ -`` (it would leave the folder).
        """
        if not isinstance(name, str) or not name or name != _UNSAFE.sub("-", name) or name.startswith(".") or len(name) > MAX_NAME:
            raise ValueError(f"not a run name: {name!r}")
        path = (self.root / name).resolve()
        if path.parent != self.root:
            raise ValueError(f"not a run name: {name!r}")
        return path

    def existing_run(self, name: str) -> Path:
        """:meth:`run_dir` of a run that exists.

        Raises:
            ValueError: bad name, or no such run.
        """
        path = self.run_dir(name)
        if not self.is_run(path):
            raise ValueError(f"no run called {name!r} in {self.root}")
        return path

    def new_name(self, wish: str) -> str:
        """A free run name made from ``wish`` (sanitised; ``-2``, ``-3``... appended when taken)."""
        base = sanitize_name(wish)[: MAX_NAME - 4]
        name, k = base, 2
        while self.run_dir(name).exists():
            name, k = f"{base}-{k}", k + 1
        return name

    @staticmethod
    def is_run(path: Path) -> bool:
        return path.is_dir() and ((path / WEIGHTS_FILE).exists() or (path / APP_DIR / JOB_FILE).exists())

    def names(self) -> list[str]:
        """Every run in the folder, newest first (by creation time)."""
        runs = [p for p in self.root.iterdir() if not p.name.startswith(".") and _UNSAFE.sub("-", p.name) == p.name and self.is_run(p)]
        return [p.name for p in sorted(runs, key=lambda p: (self._created(p), p.name), reverse=True)]

    def _created(self, path: Path) -> float:
        job = read_json(path / APP_DIR / JOB_FILE)
        if job and isinstance(job.get("created"), (int, float)):
            return float(job["created"])
        return path.stat().st_mtime

    # ------------------------------------------------------------------ files of a run
    def job_path(self, name: str) -> Path:
        return self.run_dir(name) / APP_DIR / JOB_FILE

    def progress_path(self, name: str) -> Path:
        return self.run_dir(name) / APP_DIR / PROGRESS_FILE

    def log_path(self, name: str) -> Path:
        return self.run_dir(name) / APP_DIR / LOG_FILE

    def inputs_dir(self, name: str) -> Path:
        return self.run_dir(name) / INPUTS_DIR

    def job(self, name: str) -> dict | None:
        """The run's job record, or None (runs made by the CLI have none)."""
        return read_json(self.job_path(name))

    def write_job(self, name: str, job: dict) -> None:
        with self._lock:
            write_json(self.job_path(name), job)

    def update_job(self, name: str, **fields) -> dict:
        """Change fields of the job record (atomically, under the store's lock); returns the new record."""
        with self._lock:
            job = self.job(name) or {}
            job.update(fields)
            write_json(self.job_path(name), job)
            return job

    def progress(self, name: str) -> dict | None:
        return read_json(self.progress_path(name))

    def has_model(self, name: str) -> bool:
        return (self.run_dir(name) / WEIGHTS_FILE).exists()

    def new_output_dir(self, name: str, task: str) -> Path:
        """A fresh folder ``outputs/<YYYYmmdd-HHMMSS>-<task>[-k]`` for one result of the page."""
        base = self.run_dir(name) / OUTPUTS_DIR
        stamp = time.strftime("%Y%m%d-%H%M%S")
        task = sanitize_name(task)
        path, k = base / f"{stamp}-{task}", 2
        while path.exists():
            path, k = base / f"{stamp}-{task}-{k}", k + 1
        path.mkdir(parents=True)
        return path

    # ------------------------------------------------------------------ checkpoint and model
    def metadata(self, name: str) -> tuple[dict, bool] | None:
        """``(checkpoint metadata, complete)`` of the run's model, or None without a (readable) one.

        Cached per checkpoint file version.  ``complete`` is the model's own
        :attr:`~sinkit.core.model.SingleImageModel.complete` (loading the model once per version).
        """
        path = self.run_dir(name) / WEIGHTS_FILE
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
            return None
        with self._lock:
            cached = self._meta.get(name)
            if cached and cached[0] == stamp:
                return cached[1], cached[2]
        try:
            meta = read_metadata(path.parent)
            complete = self.model(name).complete
        except (CheckpointError, FileNotFoundError, ValueError):
            return None
        with self._lock:
            self._meta[name] = (stamp, meta, complete)
        return meta, complete

    def model(self, name: str):
        """The run's model, loaded on :attr:`device` (cached until its checkpoint changes; 4 kept).

        Raises:
            ValueError: bad name / no such run / no checkpoint yet.
            CheckpointError: corrupt checkpoint.
        """
        path = self.existing_run(name)
        try:
            stamp = (path / WEIGHTS_FILE).stat().st_mtime_ns
        except FileNotFoundError:
            raise ValueError(f"run {name!r} has no trained model yet (its first checkpoint is written after the first scale / checkpoint interval)") from None
        with self._lock:
            cached = self._models.get(name)
            if cached and cached[0] == stamp:
                return cached[1]
        model = load(path, device=self.device)
        with self._lock:
            self._models[name] = (stamp, model)
            while len(self._models) > 4:
                self._models.pop(next(iter(self._models)))
        return model

    # ------------------------------------------------------------------ listing
    def summary(self, name: str) -> RunSummary:
        """The run's row in the runs table."""
        path = self.run_dir(name)
        job = self.job(name)
        found = self.metadata(name)
        meta, complete = found if found else ({}, False)
        info = meta.get("info") or {}
        secs = info.get("train_seconds", 0.0)
        seconds = float(sum(secs)) if isinstance(secs, list) else float(secs or 0.0)
        if job:
            status = job.get("status", "interrupted")
            method, preset, created = job.get("method", ""), job.get("preset", ""), float(job.get("created", 0.0))
        else:
            status = "done (CLI)" if complete else "interrupted (CLI)"
            method, preset, created = meta.get("method", ""), "", path.stat().st_mtime
        return RunSummary(name, method, preset, status, created, seconds, found is not None)
