"""DeepSIM speed: seconds per training iteration at 256 px (paper / fast, fp32 / bf16), translation time, peak memory.

The paper reports about 2 h for a 256 px image on a GPU (16000 iterations).  Full runs
take a day on a CPU, so each setting trains ``--warmup`` iterations, then ``--warmup +
--iters`` iterations from scratch (the same seed, in memory, through the real
``sinkit.deepsim.train``), and the difference divided by ``--iters`` is the cost of one
iteration (data preparation and warm-up cancel out).  Translation is timed on the model
the longer run left (``--repeats`` calls after one warm-up call).

Usage (the figures in docs/deepsim.md)::

    env OMP_NUM_THREADS=2 python benchmarks/deepsim_speed.py --threads 2 --out speed.json
    python benchmarks/deepsim_speed.py --presets fast --iters 2 --repeats 2    # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

import torch

import sinkit
from sinkit.bench.memory import PeakMemory
from sinkit.deepsim import PRESETS, train
from sinkit.deepsim.primitives import resize_primitive, seg_edges_primitive


def _find_pair() -> tuple[torch.Tensor, torch.Tensor]:
    for parent in Path(__file__).resolve().parents[1:]:
        root = parent / "shared" / "data" / "examples" / "deepsim" / "face_video"
        if root.is_dir():
            image = sinkit.resize(sinkit.load_image(root / "train_B" / "0.png"), (256, 256))
            seg = resize_primitive(sinkit.load_image(root / "train_seg" / "0.png"), "seg", (256, 256))
            return image, seg_edges_primitive(seg, image, sigma=0.5)
    gen = torch.Generator().manual_seed(0)  # no data next to the repository: a synthetic pair
    image = sinkit.resize(torch.rand(1, 3, 32, 32, generator=gen) * 2 - 1, (256, 256))
    return image, torch.where(image > 0, 1.0, -1.0)


def measure(preset: str, bf16: bool, image, primitive, warmup: int, iters: int, repeats: int, device: str) -> dict:
    config = replace(PRESETS[preset], bf16=bf16, max_size=256, vgg_loss="off", primitive_kind="seg_edges")
    quiet = dict(progress=False, log=lambda m: None, device=device)
    train(image, primitive, config, stop_after=1, **quiet)  # one-time costs: imports, allocator, kernels
    t0 = time.perf_counter()
    train(image, primitive, config, stop_after=warmup, **quiet)
    t1 = time.perf_counter()
    with PeakMemory(device) as mem:
        model = train(image, primitive, config, stop_after=warmup + iters, **quiet)
    t2 = time.perf_counter()
    per_iter = ((t2 - t1) - (t1 - t0)) / iters
    model.translate(primitive)
    start = time.perf_counter()
    with PeakMemory(device) as mem_t:
        for _ in range(repeats):
            model.translate(primitive)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
    translate_s = (time.perf_counter() - start) / repeats
    return {
        "preset": preset,
        "bf16": bf16,
        "size": list(model.size),
        "seconds_per_iter": round(per_iter, 4),
        "extrapolated_train_min": round(per_iter * config.total_iters / 60, 1),
        "iters": config.total_iters,
        "translate_s": round(translate_s, 4),
        "train_peak_rss_mb": round(mem.peak_rss_mb or 0, 1),
        "translate_peak_rss_mb": round(mem_t.peak_rss_mb or 0, 1),
        "cuda_peak_mb": mem.cuda_peak_mb,
        "generator_params_m": round(sum(p.numel() for p in model.generator.parameters()) / 1e6, 2),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", default="paper,fast")
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iters", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    image, primitive = _find_pair()
    rows = []
    print(f"{'preset':<6} {'prec':<5} {'s/iter':>8} {'train (extrapolated)':>21} {'translate s':>12} {'peak RSS MB':>12}")
    for preset in args.presets.split(","):
        for prec in args.precisions.split(","):
            r = measure(preset, prec == "bf16", image, primitive, args.warmup, args.iters, args.repeats, args.device)
            rows.append(r)
            print(f"{preset:<6} {prec:<5} {r['seconds_per_iter']:>8.3f} {r['extrapolated_train_min']:>14.1f} min "
                  f"({r['iters']}) {r['translate_s']:>8.3f} {r['train_peak_rss_mb']:>12.0f}", flush=True)
    result = {"machine": {"cpu": platform.processor() or platform.machine(), "threads": args.threads,
                          "torch": torch.__version__, "device": args.device,
                          "loadavg": open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else None},
              "rows": rows}
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
