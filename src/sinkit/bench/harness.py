"""``sinkit bench``: one model per dataset image, samples from chosen start scales, every metric.

Layout of the output folder::

    bench.json              settings (a second run must use the same ones)
    models/<run>/           checkpoint of each run (resumable)
    per_image/<run>.json    finished runs: metrics, times, memory (presence = done)
    failed/<run>.json       runs that failed, with their error line (removed when a rerun succeeds)
    sheets/<run>.png        contact sheet: image, reconstruction, samples per start scale
    results.csv             one row per finished run
    summary.md              mean and std per metric, next to the papers' reported numbers; failures
    metric_vs_time.png      metrics against training time

A run is one image with the preset's training seed (``<run>`` = the image's
stem), or one image with one of ``settings.seeds`` (``<run>`` = ``<stem>-seed<k>``).

The unit of work is :func:`run_task` (train one run, sample, score, write its
record); :func:`run_bench` calls it image after image in this process, and
:func:`sinkit.bench.ray_runner.run_bench_ray` calls the same function as one Ray
task per run, so both give the same records and, through
:func:`~sinkit.bench.reports.write_reports`, the same reports.

An interrupted run restarts where it stopped: finished runs are skipped and
the run in progress resumes from its last saved checkpoint.  Several processes
may work on one folder at once (one per GPU, say, or Ray tasks next to a local
process): each claims a run with a lock file (``per_image/<run>.lock``) before
training it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import torch

from ..core.capabilities import CapabilityError, Sampler
from ..core.config import config_from_dict, config_to_dict, replace_config, resolve_config
from ..core.device import resolve_device
from ..core.io import ImageReadError, load_image, save_grid
from ..core.pyramid_model import PyramidModel
from ..core.registry import get_method
from ..core.scales import parse_scale, scale_label
from ..metrics.evaluate import SAMPLE_METRICS, _DeepModels, deep_metric_status, evaluate_fidelity, evaluate_samples
from .memory import PeakMemory
from .reports import REPORTED, write_reports

__all__ = [
    "BenchSettings",
    "BenchTask",
    "Bench",
    "REPORTED",
    "DATA_ERRORS",
    "prepare_bench",
    "run_task",
    "record_failure",
    "run_bench",
    "draw_samples",
    "write_reports",
    "list_images",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")

#: Errors that mean "this image cannot be benchmarked" (unreadable, too small for the preset...):
#: recorded as a failure, and the benchmark goes on.  Anything else is a bug or a broken machine.
DATA_ERRORS = (ValueError, ImageReadError)

#: A lock file not refreshed for this long belongs to a dead process, even on another host
#: (the holder touches it every STALE_LOCK_S / 4 seconds while it works).
STALE_LOCK_S = 120.0


@dataclass
class BenchSettings:
    """What defines a benchmark run; stored in ``bench.json`` so a resumed run cannot mix settings."""

    method: str = "singan"
    preset: str = "fast"
    overrides: dict[str, Any] = field(default_factory=dict)
    """config fields changed from the preset (e.g. ``{"iters": 10}`` for a smoke test)"""
    samples: int = 10
    """samples per image and start scale"""
    start_scales: list[str] = field(default_factory=lambda: ["N", "N-1"])
    """start scales in paper notation (``N`` = coarsest = index 0)"""
    seed: int = 0
    """seed of the samples (training seeds come from the config, or from ``seeds``)"""
    metrics: list[str] = field(default_factory=lambda: list(SAMPLE_METRICS))
    inception: str = "fid"
    """``fid`` (TF FID weights) or ``torchvision`` (the official SinGAN SIFID script's weights)"""
    seeds: list[int] | None = None
    """training seeds (the config's ``seed`` field): one run per image and seed; None: one run per
    image with the preset's seed"""


@dataclass(frozen=True)
class BenchTask:
    """One unit of benchmark work: one image, one training seed, in one benchmark folder.

    Attributes:
        out: the benchmark folder (holds ``bench.json``).
        image: the image file.
        run: the run's name: the image stem, or ``<stem>-seed<k>``; names its
            checkpoint folder, record, sheet and lock.
        seed: the training seed, or None for the preset's.
    """

    out: str
    image: str
    run: str
    seed: int | None = None

    @property
    def label(self) -> str:
        """``<folder>/<run>``: how progress lines name the task."""
        return f"{Path(self.out).name}/{self.run}"

    @property
    def record(self) -> Path:
        return Path(self.out) / "per_image" / f"{self.run}.json"

    @property
    def lock(self) -> Path:
        return Path(self.out) / "per_image" / f"{self.run}.lock"

    @property
    def failure(self) -> Path:
        return Path(self.out) / "failed" / f"{self.run}.json"


@dataclass
class Bench:
    """A benchmark folder ready to run: checked settings, the images, what can be computed here.

    Made by :func:`prepare_bench`; both runners take it.
    """

    out: Path
    settings: BenchSettings
    images: list[Path]
    metrics: list[str]
    """the metrics of ``settings.metrics`` whose weights are available to the driver"""
    status: dict[str, str | None]
    """per requested metric: None, or why it cannot run (for the summary)"""

    def tasks(self) -> list[BenchTask]:
        """Every run of this benchmark, image-major (an image's seeds one after the other).

        Paths are absolute: a Ray worker's working directory is its node's, not the driver's.
        """
        out, images = str(self.out.resolve()), [p.resolve() for p in self.images]
        if not self.settings.seeds:
            return [BenchTask(out, str(p), p.stem) for p in images]
        return [BenchTask(out, str(p), f"{p.stem}-seed{s}", s) for p in images for s in self.settings.seeds]

    def write_reports(self) -> dict[str, Path]:
        return write_reports(self.out, status=self.status)


def list_images(dataset: str | os.PathLike, limit: int | None = None) -> list[Path]:
    """Image files of ``dataset`` in natural order (``2.jpg`` before ``10.jpg``), at most ``limit``.

    Raises:
        FileNotFoundError: ``dataset`` is not a folder.
        ValueError: no image files in it.
    """
    folder = Path(dataset)
    if not folder.is_dir():
        raise FileNotFoundError(f"dataset folder {folder} does not exist")
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    key = lambda p: [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", p.stem)]  # noqa: E731
    files.sort(key=key)
    return files[:limit] if limit else files


def _scale_label(text: str) -> str:
    """``"1"`` and ``"N-1"`` both become ``"N-1"``; ``"0"`` becomes ``"N"``."""
    return scale_label(parse_scale(text))


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # unique per process and thread: several bench processes (or Ray tasks) may share a folder
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False))
    tmp.replace(path)


def task_config(settings: BenchSettings, seed: int | None = None):
    """The config one run trains with: the preset, the overrides, and the run's training seed.

    Raises:
        ValueError: unknown method, preset or config field; a seed for a config without a ``seed`` field.
    """
    cls = get_method(settings.method)
    config = replace_config(resolve_config(cls, settings.preset), **settings.overrides)
    if seed is not None:
        if not hasattr(config, "seed"):
            raise ValueError(f"{settings.method} configs have no seed field: drop --seeds")
        config = replace(config, seed=seed)
    return config


def prepare_bench(
    dataset: str | os.PathLike,
    out_dir: str | os.PathLike,
    settings: BenchSettings | None = None,
    *,
    limit: int | None = None,
    download: bool = True,
    log: Callable[[str], None] = print,
) -> Bench:
    """Check ``settings``, list the images, write or check ``bench.json``, find which metrics can run.

    Raises:
        FileNotFoundError / ValueError: bad dataset, unknown method / preset /
            metric / start scale, or ``out_dir`` holding a run with other settings.
        CapabilityError: the method cannot draw samples.
    """
    settings = settings or BenchSettings()
    settings = replace(
        settings,
        start_scales=[_scale_label(s) for s in settings.start_scales],
        seeds=[int(s) for s in settings.seeds] if settings.seeds else None,
    )
    cls = get_method(settings.method)
    if not issubclass(cls, Sampler):
        raise CapabilityError(f"{settings.method} models cannot draw random samples, which the benchmark scores. {cls.usage}".strip())
    if not issubclass(cls, PyramidModel) and settings.start_scales != ["N"]:
        raise ValueError(f"{settings.method} models have no pyramid start scales: use --start-scales N")
    config = task_config(settings)
    if settings.seeds:
        task_config(settings, settings.seeds[0])  # the config must have a seed field
        if len(set(settings.seeds)) != len(settings.seeds):
            raise ValueError(f"repeated training seeds in {settings.seeds}")
    unknown = set(settings.metrics) - set(SAMPLE_METRICS)
    if unknown:
        raise ValueError(f"unknown metric(s) {sorted(unknown)}; known: {', '.join(SAMPLE_METRICS)}")
    if settings.samples < 2:
        raise ValueError(f"need at least 2 samples per start scale for the diversity measures, got {settings.samples}")
    images = list_images(dataset, limit)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    saved_settings = asdict(settings)
    if saved_settings["seeds"] is None:
        del saved_settings["seeds"]  # folders written before seeds existed stay resumable
    record = {"settings": saved_settings, "config": config_to_dict(config), "started_at": _now()}
    bench_file = out / "bench.json"
    if bench_file.exists():
        saved = json.loads(bench_file.read_text())
        saved_config = saved.get("config")
        with contextlib.suppress(ValueError, TypeError):
            # a config field added since the folder was written takes its default, as in a checkpoint
            # (core.config.config_from_dict), so the folder stays resumable
            saved_config = config_to_dict(config_from_dict(type(config), saved_config))
        if saved.get("settings") != record["settings"] or saved_config != record["config"]:
            raise ValueError(
                f"{out} holds a benchmark with other settings ({bench_file}); use another --out or the same options"
            )
        record["started_at"] = saved.get("started_at")  # the first start, for the elapsed time of the whole run
    _write_json(bench_file, record)

    status = deep_metric_status(download=download, inception=settings.inception)
    metrics = [m for m in settings.metrics if status.get(m) is None]
    for m in settings.metrics:
        if status.get(m) is not None:
            log(f"not computed: {m} -- {status[m].splitlines()[0]}")
    return Bench(out, settings, images, metrics, {m: status.get(m) for m in settings.metrics})


def run_task(
    task: BenchTask,
    settings: BenchSettings,
    metrics: list[str],
    *,
    device: str | torch.device = "auto",
    progress: bool = False,
    token: str | None = None,
    on_start: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Benchmark one run: train (resuming its checkpoint), sample, score, write its sheet and record.

    The same function runs in the single-process bench and inside every Ray task.

    Args:
        task: which image, seed and folder.
        settings: the benchmark's settings (``bench.json``).
        metrics: the sample metrics to compute (those available to the driver).
        device: ``auto``, ``cpu``, ``cuda`` or ``mps`` (resolved here, where the work runs).
        progress: training progress bars.
        token: the claiming driver's token: a lock left by an earlier attempt of this
            driver (a Ray task retried after its worker died) is taken over.

    Returns:
        ``{"status": "done", "record": {...}}``; ``{"status": "finished earlier", "record": {...}}``
        when the record already existed; ``{"status": "busy", "owner": "host:pid"}`` when another
        live process holds the run's lock.

    Raises:
        ValueError / ImageReadError (:data:`DATA_ERRORS`): the image cannot be benchmarked.
        Anything else the training raises.
    """
    if task.record.exists():
        return {"status": "finished earlier", "record": json.loads(task.record.read_text())}
    owner = _claim(task.lock, token=token)
    if owner is not None:
        return {"status": "busy", "owner": owner}
    try:
        if task.record.exists():  # another process finished it between the check and the claim
            return {"status": "finished earlier", "record": json.loads(task.record.read_text())}
        if on_start is not None:
            on_start()
        with _Heartbeat(task.lock, STALE_LOCK_S / 4):
            row = _bench_one(task, settings, metrics, resolve_device(device), progress)
        _write_json(task.record, row)
        task.failure.unlink(missing_ok=True)
    finally:
        task.lock.unlink(missing_ok=True)
    return {"status": "done", "record": row}


def record_failure(task: BenchTask, error: BaseException | str, host: str | None = None) -> dict:
    """Write ``failed/<run>.json`` (run, image, the error's first line, host, time) for the summary."""
    if isinstance(error, BaseException):
        text = f"{type(error).__name__}: {error}"
    else:
        text = str(error)
    lines = [line for line in text.strip().splitlines() if line.strip()]
    info = {"run": task.run, "file": task.image, "error": lines[0] if lines else "unknown error", "host": host, "at": _now()}
    _write_json(task.failure, info)
    return info


def run_bench(
    dataset: str | os.PathLike,
    out_dir: str | os.PathLike,
    settings: BenchSettings | None = None,
    *,
    limit: int | None = None,
    device: str | torch.device = "auto",
    download: bool = True,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> Path:
    """Benchmark ``settings.method`` on every image of ``dataset`` in this process; returns ``out_dir``.

    For each run (image, and training seed when ``settings.seeds`` is given), :func:`run_task`:
    train with ``get_method(method).fit(image, preset + overrides, out_dir=models/<run>,
    resume=True)`` (timing the wall clock and the peak memory), draw ``samples`` samples
    from each start scale with a fixed seed, score them with every available metric
    (:func:`~sinkit.metrics.evaluate_samples`), score the reconstruction against the
    training image (:func:`~sinkit.metrics.evaluate_fidelity`), write a contact sheet
    and the per-image record.  Then :func:`~sinkit.bench.reports.write_reports`.
    An image that cannot be benchmarked (:data:`DATA_ERRORS`) is logged, recorded in
    ``failed/`` and the run goes on; any other error is recorded and raised.

    Args:
        dataset: folder of images.
        out_dir: output folder (layout in the module docstring).
        settings: method, preset, samples, start scales, seeds, metrics.
        limit: only the first ``limit`` images (natural order).
        device: ``auto``, ``cpu``, ``cuda`` or ``mps``.
        download: allow downloading missing metric weights once.
        progress: show training progress bars.
        log: receives one line per event.

    Raises:
        FileNotFoundError / ValueError: bad dataset, unknown method / preset /
            metric / start scale, or ``out_dir`` holding a run with other settings.
    """
    bench = prepare_bench(dataset, out_dir, settings, limit=limit, download=download, log=log)
    settings = bench.settings
    tasks = bench.tasks()
    host = socket.gethostname()
    for n, task in enumerate(tasks, 1):
        name = Path(task.image).name + (f" seed {task.seed}" if task.seed is not None else "")
        head = f"[{n}/{len(tasks)}] {name}"
        if task.record.exists():
            log(f"{head}: finished earlier, skipped")
            continue
        try:
            result = run_task(
                task, settings, bench.metrics, device=device, progress=progress,
                on_start=lambda: log(f"{head}: training {settings.method} ({settings.preset})"),
            )
        except DATA_ERRORS as err:  # one unusable image must not stop a long run
            record_failure(task, err, host)
            log(f"{head}: FAILED, left out of the results: {err}")
            continue
        except Exception as err:
            record_failure(task, err, host)
            raise
        if result["status"] == "busy":
            log(f"{head}: being benchmarked by process {result['owner']}, skipped")
        elif result["status"] == "finished earlier":
            log(f"{head}: finished earlier, skipped")
        else:
            log(f"{head}: {_done_line(result['record'])}")
    bench.write_reports()
    return bench.out


def _done_line(row: dict) -> str:
    scales = f"{row['num_scales']} scales, " if row.get("num_scales") is not None else ""  # None: a method without a pyramid
    return f"{scales}trained in {row['train_s']:.0f} s, peak RSS {row['peak_rss_mb'] or float('nan'):.0f} MiB"


def _claim(lock: Path, *, token: str | None = None) -> str | None:
    """Take ``lock`` for this process; return the owner ("host:pid") when another live process holds it.

    Lets several ``sinkit bench`` processes (one per GPU, or per core, or Ray tasks)
    share one output folder: each run is trained by exactly one of them.  A lock is
    taken over when it is stale: its process on this host is gone, it carries this
    driver's ``token`` (an earlier attempt of a retried task), or it was not
    refreshed for :data:`STALE_LOCK_S` (its holder, maybe on another host, died).
    """
    lock.parent.mkdir(parents=True, exist_ok=True)
    me = f"{socket.gethostname()}:{os.getpid()}" + (f" {token}" if token else "")
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                text = lock.read_text().strip()
                age = time.time() - lock.stat().st_mtime
            except FileNotFoundError:  # released meanwhile
                continue
            owner, _, their_token = text.partition(" ")
            host, _, pid = owner.rpartition(":")
            dead_here = host == socket.gethostname() and pid.isdigit() and not _alive(int(pid))
            if dead_here or (token and their_token == token) or age > STALE_LOCK_S:
                lock.unlink(missing_ok=True)
                continue
            return owner or "unknown"
        with os.fdopen(fd, "w") as f:
            f.write(me)
        return None
    return "unknown"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Heartbeat:
    """Touch ``path`` every ``every`` seconds while the block runs, so other hosts see a live lock."""

    def __init__(self, path: Path, every: float):
        self.path, self.every = path, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            try:
                os.utime(self.path)
            except OSError:
                pass

    def __enter__(self) -> "_Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


@lru_cache(maxsize=None)
def _deep_models(inception: str) -> _DeepModels:
    """One set of Inception / LPIPS networks per process (a Ray worker runs many tasks)."""
    return _DeepModels(inception)


def draw_samples(model, num: int, seed: int, start_scale: str) -> torch.Tensor:
    """The samples the bench scores: ``num`` samples drawn with sampling seed ``seed``.

    Args:
        start_scale: a pyramid model's start scale as written in the settings (``N``, ``N-1``, ``0``);
            ignored by models without scales.

    Returns:
        ``(num, 3, H, W)`` in ``[-1, 1]``.
    """
    options = {"start_scale": parse_scale(start_scale, model.num_scales)} if isinstance(model, PyramidModel) else {}
    return model.sample(num, generator=seed, **options)


def _bench_one(task: BenchTask, settings: BenchSettings, metrics: list[str], device: torch.device, progress: bool) -> dict:
    cls = get_method(settings.method)
    config = task_config(settings, task.seed)
    path = Path(task.image)
    out = Path(task.out)
    image = load_image(path)
    model_dir = out / "models" / task.run
    start = time.perf_counter()
    with PeakMemory(device) as mem:
        model = cls.fit(image, config, out_dir=model_dir, resume=True, device=device, progress=progress)
    wall = time.perf_counter() - start
    # A resumed image only spent part of its training in this process; the
    # model's own record covers all of it.
    train_s = model.train_seconds if model.complete and model.train_seconds > 0 else wall
    real = model.training_image()
    row: dict[str, Any] = {"image": path.stem}
    if task.seed is not None:
        row.update(run=task.run, seed=task.seed)
    row.update({
        "file": str(path),
        "height": int(real.shape[-2]),
        "width": int(real.shape[-1]),
        "num_scales": getattr(model, "num_scales", None),
        "train_s": round(train_s, 2),
        "train_wall_s": round(wall, 2),
        "peak_rss_mb": None if mem.peak_rss_mb is None else round(mem.peak_rss_mb, 1),
        "rss_before_mb": None if mem.rss_before_mb is None else round(mem.rss_before_mb, 1),
        "cuda_peak_mb": None if mem.cuda_peak_mb is None else round(mem.cuda_peak_mb, 1),
    })
    row.update({f"ran_{k}": v for k, v in model.run_facts().items()})  # e.g. which prior an `auto` became
    problems = model.training_problems()
    if problems:
        row["problems"] = "; ".join(problems)
    tiles, labels = [real.cpu()], ["real"]
    with torch.no_grad():
        rec = model.reconstruction()
    if rec is not None:
        tiles.append(rec.cpu())
        labels.append("reconstruction")
        for key, value in evaluate_fidelity(rec, real).items():
            row[f"rec_{key}"] = round(value, 5)
    ncol = max(2, min(settings.samples, 6))
    tiles += [torch.ones_like(real).cpu()] * (ncol - len(tiles))
    labels += [""] * (ncol - len(labels))
    deep = _deep_models(settings.inception)
    for label in settings.start_scales:
        t0 = time.perf_counter()
        samples = draw_samples(model, settings.samples, settings.seed, label)
        row[f"sample_s@{label}"] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        for key, value in evaluate_samples(samples, real, metrics=metrics, deep_models=deep).items():
            row[f"{key}@{label}"] = round(value, 5)
        row[f"eval_s@{label}"] = round(time.perf_counter() - t0, 2)
        shown = samples[:ncol].cpu()
        tiles += [shown[i : i + 1] for i in range(shown.shape[0])]
        labels += [f"{label} #{i}" for i in range(shown.shape[0])]
    save_grid(tiles, out / "sheets" / f"{task.run}.png", ncol=ncol, labels=labels)
    row["wall_s"] = round(time.perf_counter() - start, 2)
    row["host"] = socket.gethostname()
    row["finished_at"] = _now()
    return row


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
