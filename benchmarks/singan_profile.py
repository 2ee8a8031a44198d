"""Where a SinGAN training iteration spends its time, and how fast this CPU runs its convolutions.

1. ``torch.profiler`` over one iteration of sinkit's :class:`~sinkit.singan.trainer.ScaleTrainer`
   (default: the finest scale of ``../shared/data/places50/0.jpg``, paper preset): the ops with
   the most self time.
2. The throughput of the convolution that dominates it (3x3, 128 -> 128 channels, at that
   scale's padded size, channels_last): forward, gradient w.r.t. the input, gradient w.r.t. the
   weight, in GFLOP/s, fp32 and bf16.

    python benchmarks/singan_profile.py                   # bf16 (the default where supported)
    python benchmarks/singan_profile.py --precision fp32

About 1 min with 2 threads.  Results: docs/singan.md ("Where the time goes").
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vs_official import DEFAULT_IMAGE, _build, _load  # noqa: E402


def best_time(fn, repeats: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def conv_throughput(height: int, width: int, channels: int = 128) -> None:
    flop = 2 * channels * channels * 9 * (height - 2) * (width - 2)
    fmt = torch.channels_last
    print(f"\nconv 3x3 {channels}->{channels} on {height}x{width} (channels_last), best of 5:")
    print("| precision | forward | grad input | grad weight |")
    print("|---|---|---|---|")
    for dtype in (torch.float32, torch.bfloat16):
        w = torch.randn(channels, channels, 3, 3).to(dtype).contiguous(memory_format=fmt)
        x = torch.randn(1, channels, height, width).to(dtype).contiguous(memory_format=fmt)
        gy = torch.randn(1, channels, height - 2, width - 2).to(dtype).contiguous(memory_format=fmt)
        cells = [f"{flop / best_time(lambda: torch.nn.functional.conv2d(x, w)) / 1e9:.0f} GFLOP/s"]
        for mask in ([True, False, False], [False, True, False]):
            t = best_time(lambda: torch.ops.aten.convolution_backward(
                gy, x, w, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1, mask))
            cells.append(f"{flop / t / 1e9:.0f} GFLOP/s")
        print(f"| {str(dtype).removeprefix('torch.')} | " + " | ".join(cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--image", default=str(DEFAULT_IMAGE), help="training image (default: places50/0.jpg)")
    ap.add_argument("--preset", default="paper", help="SinGAN preset (default: %(default)s)")
    ap.add_argument("--precision", choices=["bf16", "fp32"], default="bf16", help="(default: %(default)s)")
    ap.add_argument("--scale-from-end", type=int, default=0, help="0 = finest scale (default), 1 = the one before, ...")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="intra-op threads (default: all cores, %(default)s)")
    ap.add_argument("--rows", type=int, default=15, help="ops to list (default: 15)")
    args = ap.parse_args()

    from torch.profiler import ProfilerActivity, profile

    from sinkit.singan import PRESETS
    from sinkit.singan.trainer import ScaleTrainer, prepare_process

    torch.set_num_threads(args.threads)
    prepare_process()
    print(f"load average before: {_load()}; {args.threads} threads; {args.image}; preset {args.preset}, {args.precision}")
    config = replace(PRESETS[args.preset], bf16=args.precision == "bf16")
    model, index = _build(args.image, args.scale_from_end, config)
    trainer = ScaleTrainer(model, index)
    trainer.step()
    trainer.step()
    start = time.perf_counter()
    trainer.step()
    print(f"scale {index} ({model.sizes[index][0]}x{model.sizes[index][1]}): one iteration {time.perf_counter() - start:.2f} s")
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        trainer.step()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))
    pad = trainer.pad
    conv_throughput(model.sizes[index][0] + 2 * pad, model.sizes[index][1] + 2 * pad)
    print(f"load average after: {_load()}")


if __name__ == "__main__":
    main()
