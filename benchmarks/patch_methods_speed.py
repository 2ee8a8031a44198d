"""Speed of the training-free methods (GPNN, GPDM, closed-form patch diffusion) on this machine.

For each method and image size (long side, px) it measures, in one process so
all see the same load:

* ``build``: ``Method.fit`` (the image shrunk to the size; nothing is learned);
* ``first``: the first sample (includes building the per-level nearest-neighbour
  indexes / denoisers, which later samples reuse);
* ``warm``: seconds per sample of the next ``--repeats`` single samples;
* ``batched``: seconds per sample of one batch of ``--batch`` samples;
* ``peak RSS``: process resident memory peak while sampling (includes the
  interpreter and torch, ~0.4 GiB).

At large sizes a full run can take many minutes on a 2-core CPU; ``--scale-work
SIZE:FACTOR`` runs a cheaper configuration there (iterations / steps / Adam
steps divided by FACTOR) and reports the measured time multiplied back
(columns marked "extrapolated"): these methods' cost is linear in those counts
apart from the one-off index builds.

Usage::

    python benchmarks/patch_methods_speed.py --sizes 250 --out speed.json
    .venv/bin/python benchmarks/patch_methods_speed.py \
        --sizes 250,1024 --scale-work 1024:10 --threads 2 --out results/patch-speed.json

Prints a markdown table and writes JSON (every measurement, machine, load, threads).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from pathlib import Path

import torch

import sinkit
from sinkit.bench.memory import PeakMemory

def _default_image() -> Path:
    """``shared/data/examples/editing/nature.jpg`` beside the checkout (``../shared`` from the repo root)."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "data" / "examples" / "editing" / "nature.jpg"
        if candidate.exists():
            return candidate
    return Path("../shared/data/examples/editing/nature.jpg")


IMAGE = _default_image()

#: the config fields holding each method's per-level work count (what --scale-work divides)
WORK_FIELDS = {"gpnn": ("iters",), "gpdm": ("steps",), "patch_diffusion": ("steps",)}


def loadavg() -> str:
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "n/a"


def measure(method: str, preset: str, image: torch.Tensor, size: int, repeats: int, batch: int, factor: int) -> dict:
    cls = sinkit.get_method(method)
    config = dataclasses.replace(sinkit.core.config.resolve_config(cls, preset), max_size=size)
    changed = {}
    if factor > 1:
        for f in WORK_FIELDS[method]:
            changed[f] = max(1, getattr(config, f) // factor)
        config = dataclasses.replace(config, **changed)
    row = {"method": method, "preset": preset, "size": size, "work_divided_by": factor, "changed": changed, "load_before": loadavg()}
    t = time.perf_counter()
    model = cls.fit(image, config, device="cpu", progress=False)
    row["build_s"] = time.perf_counter() - t
    row["image"] = list(model.output_size())
    with PeakMemory() as mem:
        t = time.perf_counter()
        model.sample(1, generator=0)
        row["first_s"] = (time.perf_counter() - t) * factor
        t = time.perf_counter()
        for i in range(repeats):
            model.sample(1, generator=1 + i)
        row["warm_s_per_sample"] = (time.perf_counter() - t) / max(1, repeats) * factor if repeats else None
        if batch > 1:
            t = time.perf_counter()
            model.sample(batch, generator=100, batch_size=batch)
            row["batched_s_per_sample"] = (time.perf_counter() - t) / batch * factor
    row["peak_rss_mb"] = mem.peak_rss_mb
    row["load_after"] = loadavg()
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", default=str(IMAGE))
    p.add_argument("--methods", default="gpnn,patch_diffusion,gpdm")
    p.add_argument("--preset", default="paper")
    p.add_argument("--sizes", default="250,1024", help="long sides, px")
    p.add_argument("--repeats", type=int, default=2, help="warm single samples timed")
    p.add_argument("--batch", type=int, default=4, help="samples of the batched measurement (1: skip)")
    p.add_argument("--scale-work", default="", help="[METHOD@]SIZE:FACTOR,...: divide iterations/steps by FACTOR at SIZE (for METHOD) and extrapolate")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    image = sinkit.load_image(args.image)
    factors = {}
    for item in (i for i in args.scale_work.split(",") if i):
        key, value = item.split(":")
        method, _, size = key.rpartition("@")
        factors[(method, int(size))] = int(value)
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        for method in args.methods.split(","):
            factor = factors.get((method, size), factors.get(("", size), 1))
            row = measure(method, args.preset, image, size, args.repeats if factor == 1 else 0, args.batch if factor == 1 else 1, factor)
            rows.append(row)
            print(json.dumps(row), flush=True)
    print()
    print("| method | image, px | build, s | first sample, s | s/sample (warm) | s/sample (batch of %d) | peak RSS, MiB | load before / after |" % args.batch)
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        mark = f" (extrapolated x{r['work_divided_by']})" if r["work_divided_by"] > 1 else ""
        fmt = lambda v: "n/a" if v is None else f"{v:.2f}"  # noqa: E731
        print(
            f"| {r['method']} | {r['image'][0]}x{r['image'][1]} | {r['build_s']:.2f} | {fmt(r['first_s'])}{mark} | "
            f"{fmt(r.get('warm_s_per_sample'))} | {fmt(r.get('batched_s_per_sample'))} | {fmt(r['peak_rss_mb'])} | "
            f"{r['load_before']} / {r['load_after']} |"
        )
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        meta = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(), "threads": args.threads, "torch": torch.__version__}
        Path(args.out).write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
