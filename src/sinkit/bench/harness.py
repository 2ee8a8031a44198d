"""``sinkit bench``: one model per dataset image, samples from chosen start scales, every metric.

Layout of the output folder::

    bench.json              settings (a second run must use the same ones)
    models/<image>/         checkpoint of each image (resumable)
    per_image/<image>.json  finished images: metrics, times, memory (presence = done)
    sheets/<image>.png      contact sheet: image, reconstruction, samples per start scale
    results.csv             one row per finished image
    summary.md              mean and std per metric, next to the papers' reported numbers
    metric_vs_time.png      metrics against training time

An interrupted run restarts where it stopped: finished images are skipped and
the image in progress resumes from its last saved scale.  Several processes may
work on one folder at once (one per GPU, say): each claims an image with a
lock file (``per_image/<image>.lock``) before training it.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import statistics
import time
from datetime import datetime, timezone
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import torch

from ..core.capabilities import CapabilityError, Sampler
from ..core.config import config_to_dict, replace_config, resolve_config
from ..core.device import resolve_device
from ..core.io import ImageReadError, load_image, save_grid
from ..core.locks import claim as _claim
from ..core.locks import release as _release
from ..core.pyramid_model import PyramidModel
from ..core.registry import get_method
from ..core.scales import parse_scale, scale_label
from ..metrics.evaluate import FIDELITY_METRICS, SAMPLE_METRICS, _DeepModels, deep_metric_status, evaluate_fidelity, evaluate_samples
from .memory import PeakMemory

__all__ = ["BenchSettings", "REPORTED", "run_bench", "write_reports", "list_images"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")

#: Numbers the papers report, shown in labelled rows of summary.md: (source, metric, start scale, value).
#: Their protocol differs from a quick benchmark (paper preset: 250 px, 2000 iterations per scale,
#: 50 images; SinGAN's diversity over 100 samples); compare trends, not digits.
REPORTED: list[tuple[str, str, str, float]] = [
    ("SinGAN paper Tab. 2, Places50 (official script: 64-d layer)", "sifid64", "N", 0.09),
    ("SinGAN paper Tab. 2, Places50 (official script: 64-d layer)", "sifid64", "N-1", 0.05),
    ("SinGAN paper Tab. 1, Places50, 100 samples", "diversity", "N", 0.5),
    ("SinGAN paper Tab. 1, Places50, 100 samples", "diversity", "N-1", 0.35),
    ("PetsGAN paper Tab. 1, SinGAN row, Places50 (SIFID layer not stated)", "sifid64", "N", 0.09),
    ("PetsGAN paper Tab. 1, SinGAN row, Places50", "lpips_div", "N", 0.25),
    ("PetsGAN paper Tab. 1, PetsGAN row, Places50 (SIFID layer not stated)", "sifid64", "N", 0.08),
    ("PetsGAN paper Tab. 1, PetsGAN row, Places50", "lpips_div", "N", 0.31),
]


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
    """seed of the samples (training seeds come from the config)"""
    metrics: list[str] = field(default_factory=lambda: list(SAMPLE_METRICS))
    inception: str = "fid"
    """``fid`` (TF FID weights) or ``torchvision`` (the official SinGAN SIFID script's weights)"""


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
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # unique: several bench processes may share a folder
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False))
    tmp.replace(path)


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
    """Benchmark ``settings.method`` on every image of ``dataset``; returns ``out_dir``.

    For each image: train with ``get_method(method).train(image, preset + overrides,
    out_dir=models/<image>, resume=True)`` (timing the wall clock and the peak
    memory), draw ``samples`` samples from each start scale with a fixed seed,
    score them with every available metric (:func:`~sinkit.metrics.evaluate_samples`),
    score the reconstruction against the training image
    (:func:`~sinkit.metrics.evaluate_fidelity`), write a contact sheet and the
    per-image record.  Then :func:`write_reports`.

    Args:
        dataset: folder of images.
        out_dir: output folder (layout in the module docstring).
        settings: method, preset, samples, start scales, seed, metrics.
        limit: only the first ``limit`` images (natural order).
        device: ``auto``, ``cpu``, ``cuda`` or ``mps``.
        download: allow downloading missing metric weights once.
        progress: show training progress bars.
        log: receives one line per event.

    Raises:
        FileNotFoundError / ValueError: bad dataset, unknown method / preset /
            metric / start scale, or ``out_dir`` holding a run with other settings.
    """
    settings = settings or BenchSettings()
    settings = replace(settings, start_scales=[_scale_label(s) for s in settings.start_scales])
    cls = get_method(settings.method)
    if not issubclass(cls, Sampler):
        raise CapabilityError(f"{settings.method} models cannot draw random samples, which the benchmark scores. {cls.usage}".strip())
    if not issubclass(cls, PyramidModel) and settings.start_scales != ["N"]:
        raise ValueError(f"{settings.method} models have no pyramid start scales: use --start-scales N")
    config = replace_config(resolve_config(cls, settings.preset), **settings.overrides)
    unknown = set(settings.metrics) - set(SAMPLE_METRICS)
    if unknown:
        raise ValueError(f"unknown metric(s) {sorted(unknown)}; known: {', '.join(SAMPLE_METRICS)}")
    if settings.samples < 2:
        raise ValueError(f"need at least 2 samples per start scale for the diversity measures, got {settings.samples}")
    images = list_images(dataset, limit)
    device = resolve_device(device)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    record = {"settings": asdict(settings), "config": config_to_dict(config), "started_at": _now()}
    bench_file = out / "bench.json"
    if bench_file.exists():
        saved = json.loads(bench_file.read_text())
        if saved.get("settings") != record["settings"] or saved.get("config") != record["config"]:
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
    deep = _DeepModels(settings.inception)

    for n, path in enumerate(images, 1):
        done = out / "per_image" / f"{path.stem}.json"
        if done.exists():
            log(f"[{n}/{len(images)}] {path.name}: finished earlier, skipped")
            continue
        owner = _claim(done.with_suffix(".lock"))
        if owner is not None:
            log(f"[{n}/{len(images)}] {path.name}: being benchmarked by process {owner}, skipped")
            continue
        if done.exists():  # another process finished it between the check and the claim
            _release(done.with_suffix(".lock"))
            log(f"[{n}/{len(images)}] {path.name}: finished earlier, skipped")
            continue
        try:
            log(f"[{n}/{len(images)}] {path.name}: training {settings.method} ({settings.preset})")
            try:
                row = _bench_one(path, cls, config, settings, metrics, deep, out, device, progress)
            except (ValueError, ImageReadError) as err:  # one unusable image must not stop a long run
                log(f"[{n}/{len(images)}] {path.name}: FAILED, left out of the results: {err}")
                continue
            _write_json(done, row)
        finally:
            _release(done.with_suffix(".lock"))
        log(
            f"[{n}/{len(images)}] {path.name}: {row['num_scales']} scales, trained in {row['train_s']:.0f} s, "
            f"peak RSS {row['peak_rss_mb'] or float('nan'):.0f} MiB"
        )
    write_reports(out, status={m: status.get(m) for m in settings.metrics})
    return out


def _bench_one(path, cls, config, settings, metrics, deep, out, device, progress) -> dict:
    image = load_image(path)
    model_dir = out / "models" / path.stem
    start = time.perf_counter()
    with PeakMemory(device) as mem:
        model = cls.fit(image, config, out_dir=model_dir, resume=True, device=device, progress=progress)
    wall = time.perf_counter() - start
    # A resumed image only spent part of its training in this process; the
    # model's own record covers all of it.
    train_s = model.train_seconds if model.complete and model.train_seconds > 0 else wall
    real = model.training_image()
    row: dict[str, Any] = {
        "image": path.stem,
        "file": str(path),
        "height": int(real.shape[-2]),
        "width": int(real.shape[-1]),
        "num_scales": getattr(model, "num_scales", None),
        "train_s": round(train_s, 2),
        "train_wall_s": round(wall, 2),
        "peak_rss_mb": None if mem.peak_rss_mb is None else round(mem.peak_rss_mb, 1),
        "rss_before_mb": None if mem.rss_before_mb is None else round(mem.rss_before_mb, 1),
        "cuda_peak_mb": None if mem.cuda_peak_mb is None else round(mem.cuda_peak_mb, 1),
    }
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
    for label in settings.start_scales:
        options = {"start_scale": parse_scale(label, model.num_scales)} if isinstance(model, PyramidModel) else {}
        t0 = time.perf_counter()
        samples = model.sample(settings.samples, generator=settings.seed, **options)
        row[f"sample_s@{label}"] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        for key, value in evaluate_samples(samples, real, metrics=metrics, deep_models=deep).items():
            row[f"{key}@{label}"] = round(value, 5)
        row[f"eval_s@{label}"] = round(time.perf_counter() - t0, 2)
        shown = samples[:ncol].cpu()
        tiles += [shown[i : i + 1] for i in range(shown.shape[0])]
        labels += [f"{label} #{i}" for i in range(shown.shape[0])]
    save_grid(tiles, out / "sheets" / f"{path.stem}.png", ncol=ncol, labels=labels)
    row["wall_s"] = round(time.perf_counter() - start, 2)
    row["finished_at"] = _now()
    return row


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# ----------------------------------------------------------------------------- reports
def _rows(out: Path) -> list[dict]:
    files = sorted((out / "per_image").glob("*.json"), key=lambda p: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.stem)])
    return [json.loads(p.read_text()) for p in files]


def _columns(rows: list[dict], labels: list[str]) -> list[str]:
    fixed = ["image", "file", "height", "width", "num_scales", "train_s", "train_wall_s", "wall_s", "peak_rss_mb", "rss_before_mb", "cuda_peak_mb", "finished_at"]
    metric_cols = [f"{m}@{s}" for m in SAMPLE_METRICS for s in labels] + [f"rec_{m}" for m in FIDELITY_METRICS]
    timing = [f"{k}@{s}" for k in ("sample_s", "eval_s") for s in labels]
    present = set().union(*(r.keys() for r in rows)) if rows else set()
    ordered = [c for c in fixed + metric_cols + timing if c in present]
    return ordered + sorted(present - set(ordered))


def _mean_std(values: list[float]) -> tuple[float, float] | None:
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def _fmt(ms: tuple[float, float] | None, digits: int = 3) -> str:
    return "n/a" if ms is None else f"{ms[0]:.{digits}f} ± {ms[1]:.{digits}f}"


def write_reports(out_dir: str | os.PathLike, *, status: dict[str, str | None] | None = None) -> dict[str, Path]:
    """(Re)write ``results.csv``, ``summary.md`` and ``metric_vs_time.png`` from the per-image records.

    Args:
        out_dir: a benchmark folder written by :func:`run_bench`.
        status: :func:`~sinkit.metrics.evaluate.deep_metric_status` output, to say
            in the summary which metrics could not run and why.

    Returns:
        ``{"csv": ..., "summary": ..., "plot": ...}`` (the plot only when matplotlib is installed).
    """
    out = Path(out_dir)
    bench = json.loads((out / "bench.json").read_text())
    settings = bench["settings"]
    labels = settings["start_scales"]
    rows = _rows(out)
    paths: dict[str, Path] = {}

    columns = _columns(rows, labels)
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in columns})
    paths["csv"] = out / "results.csv"

    lines = [
        f"# Benchmark: {settings['method']} ({settings['preset']} preset) on {Path(rows[0]['file']).parent.name if rows else '?'}",
        "",
        f"{len(rows)} images; {settings['samples']} samples per image and start scale (seed {settings['seed']}); "
        f"start scales {', '.join(labels)} (N = coarsest).",
    ]
    if rows:
        train = _mean_std([r["train_s"] for r in rows])
        lines.append(
            f"Training time per image {train[0] / 60:.1f} ± {train[1] / 60:.1f} min, "
            f"{sum(r['train_s'] for r in rows) / 3600:.2f} h summed over images; "
            f"sampling + metrics {sum(r.get(f'eval_s@{s}', 0) + r.get(f'sample_s@{s}', 0) for r in rows for s in labels) / 60:.1f} min in all."
        )
        finished = [r.get("finished_at") or datetime.fromtimestamp((out / "per_image" / f"{r['image']}.json").stat().st_mtime, timezone.utc).isoformat(timespec="seconds") for r in rows]
        if bench.get("started_at"):
            elapsed = datetime.fromisoformat(max(finished)) - datetime.fromisoformat(bench["started_at"])
            lines.append(
                f"Elapsed from the first start ({bench['started_at']}) to the last finished image ({max(finished)}): "
                f"{elapsed.total_seconds() / 60:.0f} min (includes interruptions and parallel processes)."
            )
        overrides = settings.get("overrides") or {}
        if overrides:
            lines.append(f"Config overrides on top of the preset: `{json.dumps(overrides)}`.")
    lines += ["", "## Samples (mean ± std over images)", ""]
    lines.append("| metric | better | " + " | ".join(f"start {s}" for s in labels) + " |")
    lines.append("|---|---|" + "---|" * len(labels))
    for metric, (desc, better) in SAMPLE_METRICS.items():
        cells = [_fmt(_mean_std([r.get(f"{metric}@{s}") for r in rows])) for s in labels]
        reported = [x for x in REPORTED if x[1] == metric]
        if all(c == "n/a" for c in cells) and not reported:
            continue
        lines.append(f"| **{metric}** (this run) | {better} | " + " | ".join(cells) + " |")
        for source in dict.fromkeys(x[0] for x in reported):
            vals = {x[2]: x[3] for x in reported if x[0] == source}
            lines.append(f"| {metric}, *reported: {source}* | {better} | " + " | ".join(f"*{vals[s]}*" if s in vals else "" for s in labels) + " |")
    lines += ["", "Reported rows use the papers' protocol (250 px, 2000 iterations per scale, 50 images); "
              "a fast-preset run is not expected to match them digit for digit.", ""]
    lines += ["## Reconstruction fidelity and cost (mean ± std over images)", "", "| quantity | value |", "|---|---|"]
    for metric, (desc, _) in FIDELITY_METRICS.items():
        lines.append(f"| rec_{metric}: {desc} | {_fmt(_mean_std([r.get(f'rec_{metric}') for r in rows]))} |")
    lines.append(f"| training time, s | {_fmt(_mean_std([r.get('train_s') for r in rows]), 1)} |")
    lines.append(f"| peak process RSS during training, MiB | {_fmt(_mean_std([r.get('peak_rss_mb') for r in rows]), 0)} |")
    if any(r.get("cuda_peak_mb") for r in rows):
        lines.append(f"| peak CUDA memory, MiB | {_fmt(_mean_std([r.get('cuda_peak_mb') for r in rows]), 0)} |")
    lines += ["", "## Metrics", ""]
    for metric, (desc, _) in SAMPLE_METRICS.items():
        lines.append(f"- `{metric}`: {desc}.")
    missing = {m: why for m, why in (status or {}).items() if why}
    if missing:
        lines += ["", "## Not computed here", ""]
        for m, why in missing.items():
            lines.append(f"- `{m}`: {why.splitlines()[0]} {' '.join(s.strip() for s in why.splitlines()[1:])}")
    if rows:
        lines += ["", "## Per image", ""]
        first = labels[0]
        lines.append(f"| image | size | scales | train, min | peak RSS, MiB | patch_swd@{first} | diversity@{first} | rec_psnr |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for r in rows:
            lines.append(
                f"| {r['image']} | {r['height']}x{r['width']} | {r['num_scales']} | {r['train_s'] / 60:.1f} | "
                f"{r.get('peak_rss_mb') or 'n/a'} | {r.get(f'patch_swd@{first}', 'n/a')} | {r.get(f'diversity@{first}', 'n/a')} | {r.get('rec_psnr', 'n/a')} |"
            )
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    paths["summary"] = out / "summary.md"

    plot = _plot(out, rows, labels)
    if plot is not None:
        paths["plot"] = plot
    return paths


def _plot(out: Path, rows: list[dict], labels: list[str]) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    shown = [m for m in SAMPLE_METRICS if any(f"{m}@{s}" in r for r in rows for s in labels)]
    if not rows or not shown:
        return None
    fig, axes = plt.subplots(1, len(shown), figsize=(3.6 * len(shown), 3.2), squeeze=False)
    for ax, metric in zip(axes[0], shown):
        for s in labels:
            pts = [(r["train_s"] / 60, r[f"{metric}@{s}"]) for r in rows if f"{metric}@{s}" in r]
            if pts:
                ax.scatter(*zip(*pts), label=f"start {s}", s=18)
        ax.set_xlabel("training time, min")
        ax.set_title(f"{metric} ({SAMPLE_METRICS[metric][1]} is better)", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    path = out / "metric_vs_time.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
