"""PetsGAN speed: seconds per iteration of each phase at 256 px (fp32 / bf16), training time, samples/s, peak memory.

For each preset and precision the script builds the trainer on one image (HR
long side 256), runs ``--warmup`` then ``--iters`` iterations of every phase
(external = DEPNet, internal = DIPNet, joint), and extrapolates the training
time to the preset's iteration counts.  It then times ``--samples`` samples at
the training size.  Peak memory is the process's peak RSS (and CUDA's peak
allocation on a GPU) over the whole run.  Both precisions run in the same
process, one after the other, so they see the same machine load.

Usage::

    python benchmarks/petsgan_speed.py                                   # paper + fast, fp32 + bf16
    python benchmarks/petsgan_speed.py --presets fast --precisions fp32 --iters 5 --out speed.json
    # the figures of docs/petsgan.md (quiet 2-core CPU, both cores, nothing else running):
    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/petsgan_speed.py --threads 2 --out runs/petsgan-speed.json

Prints a table and writes JSON (every measurement, machine, torch threads).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from dataclasses import replace
from pathlib import Path

import torch

from sinkit.core.io import load_image
from sinkit.petsgan import PRESETS, PHASES, PetsGAN, PetsGANTrainer, prepare_images

DEFAULT_IMAGE = str(Path(__file__).resolve().parents[1] / "src" / "sinkit" / "data" / "rocket.jpg")
NAMES = {"dep": "external (DEPNet)", "dip": "internal (DIPNet)", "joint": "joint", "hr": "x4 extension"}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(image: torch.Tensor, preset: str, bf16: bool, iters: int, warmup: int, samples: int, device: str) -> dict:
    config = replace(PRESETS[preset], bf16=bf16, augment_count=min(PRESETS[preset].augment_count, 16))
    hr, _ = prepare_images(image, config.max_size, config.factor)
    torch.manual_seed(config.seed)
    model = PetsGAN(config, {"image": hr})
    trainer = PetsGANTrainer(model, device=device)
    row: dict = {"preset": preset, "precision": "bf16" if bf16 else "fp32", "hr": list(hr.shape[-2:]),
                 "lr": list(model.lr.shape[-2:]), "s_per_iter": {}, "cpu_s_per_iter": {}, "phase_s": {}}
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    for phase in PHASES:
        for _ in range(warmup if trainer.phase_length(phase) else 0):
            trainer.step(phase)
        if trainer.phase_length(phase) == 0:
            continue
        sync()
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(iters):
            trainer.step(phase)
        sync()
        per = (time.perf_counter() - t0) / iters
        row["s_per_iter"][phase] = round(per, 4)
        # CPU seconds of this process: on a busy machine the wall clock is inflated, this is not
        # (with several threads it is the sum over threads)
        row["cpu_s_per_iter"][phase] = round((time.process_time() - c0) / iters, 4)
        row["phase_s"][phase] = round(per * trainer.phase_length(phase), 1)
    row["train_s"] = round(sum(row["phase_s"].values()), 1)
    row["train_cpu_s"] = round(sum(row["cpu_s_per_iter"][p] * trainer.phase_length(p) for p in row["cpu_s_per_iter"]), 1)
    model.eval()
    model.sample(1, generator=0)
    sync()
    t0 = time.perf_counter()
    with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=bf16):
        model.sample(samples, generator=1, batch_size=1)
    sync()
    row["samples_per_s"] = round(samples / (time.perf_counter() - t0), 3)
    row["peak_rss_mb"] = round(peak_rss_mb(), 1)
    if device == "cuda":
        row["cuda_peak_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--image", default=DEFAULT_IMAGE)
    ap.add_argument("--presets", default="paper,fast")
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--iters", type=int, default=10, help="timed iterations per phase")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=None, help="JSON file for every measurement")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    image = load_image(args.image)
    rows = []
    for preset in args.presets.split(","):
        for precision in args.precisions.split(","):
            row = measure(image, preset, precision == "bf16", args.iters, args.warmup, args.samples, args.device)
            rows.append(row)
            print(f"{preset:6s} {row['precision']}  HR {row['hr'][0]}x{row['hr'][1]}  "
                  + "  ".join(f"{NAMES[p]} {row['s_per_iter'][p]:.3f} s/it ({row['cpu_s_per_iter'][p]:.3f} CPU-s)"
                              for p in row["s_per_iter"])
                  + f"  -> training {row['train_s'] / 60:.1f} min  {row['samples_per_s']:.2f} samples/s"
                  + f"  peak RSS {row['peak_rss_mb']:.0f} MiB", flush=True)
    record = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
                          "threads": torch.get_num_threads(), "loadavg": os.getloadavg()},
              "args": vars(args), "rows": rows}
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
