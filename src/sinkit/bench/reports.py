"""The benchmark's reports, written from the per-image records alone.

Every runner (one process, several processes sharing a folder, a Ray cluster)
writes the same ``per_image/<run>.json`` records and calls the same
:func:`write_reports`, so the reports cannot depend on how the work was run.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import statistics
from datetime import datetime, timezone
from pathlib import Path

from ..metrics.evaluate import FIDELITY_METRICS, SAMPLE_METRICS

__all__ = ["REPORTED", "write_reports", "write_comparison", "read_records", "read_failures"]

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


def _natural(p: Path) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.stem)]


def read_records(out_dir: str | os.PathLike) -> list[dict]:
    """The finished runs' records (``per_image/*.json``) in natural order."""
    files = sorted((Path(out_dir) / "per_image").glob("*.json"), key=_natural)
    return [json.loads(p.read_text()) for p in files]


def read_failures(out_dir: str | os.PathLike) -> list[dict]:
    """The failed runs' records (``failed/*.json``: run name, image, error line, host) in natural order."""
    files = sorted((Path(out_dir) / "failed").glob("*.json"), key=_natural)
    return [json.loads(p.read_text()) for p in files]


def _columns(rows: list[dict], labels: list[str]) -> list[str]:
    fixed = ["image", "seed", "file", "height", "width", "num_scales", "train_s", "train_wall_s", "wall_s", "peak_rss_mb", "rss_before_mb", "cuda_peak_mb", "host", "finished_at"]
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
        out_dir: a benchmark folder written by :func:`~sinkit.bench.run_bench` (or the Ray runner).
        status: :func:`~sinkit.metrics.evaluate.deep_metric_status` output, to say
            in the summary which metrics could not run and why.

    Returns:
        ``{"csv": ..., "summary": ..., "plot": ...}`` (the plot only when matplotlib is installed).
    """
    out = Path(out_dir)
    bench = json.loads((out / "bench.json").read_text())
    settings = bench["settings"]
    labels = settings["start_scales"]
    seeds = settings.get("seeds")
    rows = read_records(out)
    failures = read_failures(out)
    paths: dict[str, Path] = {}

    columns = _columns(rows, labels)
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in columns})
    paths["csv"] = out / "results.csv"

    if seeds:
        images = len({r["image"] for r in rows})
        count = f"{len(rows)} runs ({images} images x training seeds {', '.join(map(str, seeds))}; mean and std over runs)"
    else:
        count = f"{len(rows)} images"
    lines = [
        f"# Benchmark: {settings['method']} ({settings['preset']} preset) on {Path(rows[0]['file']).parent.name if rows else '?'}",
        "",
        f"{count}; {settings['samples']} samples per image and start scale (seed {settings['seed']}); "
        f"start scales {', '.join(labels)} (N = coarsest).",
    ]
    if rows:
        train = _mean_std([r["train_s"] for r in rows])
        lines.append(
            f"Training time per image {train[0] / 60:.1f} ± {train[1] / 60:.1f} min, "
            f"{sum(r['train_s'] for r in rows) / 3600:.2f} h summed over images; "
            f"sampling + metrics {sum(r.get(f'eval_s@{s}', 0) + r.get(f'sample_s@{s}', 0) for r in rows for s in labels) / 60:.1f} min in all."
        )
        finished = [r.get("finished_at") or datetime.fromtimestamp((out / "per_image" / f"{r.get('run', r['image'])}.json").stat().st_mtime, timezone.utc).isoformat(timespec="seconds") for r in rows]
        if bench.get("started_at"):
            elapsed = datetime.fromisoformat(max(finished)) - datetime.fromisoformat(bench["started_at"])
            lines.append(
                f"Elapsed from the first start ({bench['started_at']}) to the last finished image ({max(finished)}): "
                f"{elapsed.total_seconds() / 60:.0f} min (includes interruptions and parallel processes)."
            )
        overrides = settings.get("overrides") or {}
        if overrides:
            lines.append(f"Config overrides on top of the preset: `{json.dumps(overrides)}`.")
        facts = sorted({k for r in rows for k in r if k.startswith("ran_")})
        if facts:
            ran = "; ".join(f"{k[4:]}: {', '.join(sorted({str(r[k]) for r in rows if r.get(k) is not None}))}" for k in facts)
            lines.append(f"What ran (the model's own record, `ran_*` columns of results.csv): {ran}.")
        troubled = [r for r in rows if r.get("problems")]
        if troubled:
            lines += ["", f"## Training problems ({len(troubled)} of {len(rows)} runs; their samples are in every mean below)", ""]
            lines += [f"- `{r.get('run', r['image'])}`: {r['problems']}" for r in troubled]
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
    if failures:
        lines += ["", f"## Failed ({len(failures)}; rerun the same command to retry them)", ""]
        for fail in failures:
            where = f" on {fail['host']}" if fail.get("host") else ""
            lines.append(f"- `{fail['run']}` ({Path(fail['file']).name}){where}, {fail.get('at', '?')}: {fail['error']}")
    if rows:
        lines += ["", "## Per image", ""]
        first = labels[0]
        seed_head, seed_rule = ("seed | ", "---|") if seeds else ("", "")
        lines.append(f"| image | {seed_head}size | scales | train, min | peak RSS, MiB | patch_swd@{first} | diversity@{first} | rec_psnr |")
        lines.append(f"|---|{seed_rule}---|---|---|---|---|---|---|")
        for r in rows:
            seed_cell = f"{r.get('seed')} | " if seeds else ""
            lines.append(
                f"| {r['image']} | {seed_cell}{r['height']}x{r['width']} | {r['num_scales']} | {r['train_s'] / 60:.1f} | "
                f"{r.get('peak_rss_mb') or 'n/a'} | {r.get(f'patch_swd@{first}', 'n/a')} | {r.get(f'diversity@{first}', 'n/a')} | {r.get('rec_psnr', 'n/a')} |"
            )
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    paths["summary"] = out / "summary.md"

    plot = _plot(out, rows, labels)
    if plot is not None:
        paths["plot"] = plot
    return paths


def write_comparison(root: str | os.PathLike, folders: list[str | os.PathLike]) -> Path:
    """Write ``root/comparison.md``: one row per method and preset, the mean ± std of every metric.

    Args:
        root: the ``--out`` folder of a multi-method benchmark.
        folders: its benchmark folders (one per method and preset, each with ``bench.json``).

    Returns:
        The path of ``comparison.md``.
    """
    root = Path(root)
    benches = []
    for folder in folders:
        folder = Path(folder)
        settings = json.loads((folder / "bench.json").read_text())["settings"]
        benches.append((folder, settings, read_records(folder), read_failures(folder)))
    labels = list(dict.fromkeys(s for _, settings, _, _ in benches for s in settings["start_scales"]))
    metrics = [m for m in SAMPLE_METRICS if any(f"{m}@{s}" in r for _, _, rows, _ in benches for r in rows for s in labels)]
    lines = [
        "# Benchmark comparison",
        "",
        "Mean ± std over images (and seeds) of each method's finished runs; the per-method "
        "`summary.md` in each folder has the details, the papers' numbers and the per-image tables.",
        "",
    ]
    head = ["method", "preset", "folder", "runs", "failed", "train, min"]
    head += [f"{m}@{s} ({SAMPLE_METRICS[m][1]})" for m in metrics for s in labels]
    head += [f"rec_{m} ({FIDELITY_METRICS[m][1]})" for m in FIDELITY_METRICS]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for folder, settings, rows, failures in benches:
        train = _mean_std([r.get("train_s", 0) / 60 for r in rows])
        cells = [settings["method"], settings["preset"], f"`{folder.name}/`", str(len(rows)), str(len(failures)), _fmt(train, 1)]
        cells += [_fmt(_mean_std([r.get(f"{m}@{s}") for r in rows])) for m in metrics for s in labels]
        cells += [_fmt(_mean_std([r.get(f"rec_{m}") for r in rows])) for m in FIDELITY_METRICS]
        lines.append("| " + " | ".join(cells) + " |")
    troubled = [(settings["method"], r) for _, settings, rows, _ in benches for r in rows if r.get("problems")]
    if troubled:
        lines += ["", "Training problems (included in the means above; `summary.md` of the method says more):", ""]
        lines += [f"- {method} `{r.get('run', r['image'])}`: {r['problems']}" for method, r in troubled]
    path = root / "comparison.md"
    path.write_text("\n".join(lines) + "\n")
    return path


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
