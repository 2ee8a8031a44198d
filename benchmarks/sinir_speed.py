"""SinIR speed: training time at 125 / 250 / 500 px next to SinGAN-paper, and photo-style inference.

Paper Table 1 (RTX 2080 Ti): SinIR 1m53s / 3m39s / 8m0s, SinGAN 36m29s / 90m39s /
267m57s at 125 / 250 / 500 px (8 / 11 / 13 SinIR scales); photo-style inference
0.189 s (start n = 0) and 0.381 s (n = 1) at 1024x1024.  Full runs take hours
on a CPU, so this script trains every scale of both methods for a few
iterations, measures seconds per iteration per scale and extrapolates to the
official iteration counts (SinIR 500 per scale, SinGAN 2000 per scale of 3
critic + 3 generator steps), in the same process, one size after the other,
so both see the same machine load.  The extrapolation ignores the cosine /
step learning-rate schedules (they cost nothing) and counts the first
iterations' warm-up, so it slightly over-estimates both methods alike.

Usage::

    python benchmarks/sinir_speed.py --out runs/sinir-speed.json            # all
    python benchmarks/sinir_speed.py --sizes 125 --iters 3 --no-singan --no-infer  # quick
    # what the issue-4 report used (2 shared CPU cores):
    OMP_NUM_THREADS=1 python benchmarks/sinir_speed.py --threads 1 --iters 2 --uncached "" \
        --singan-sizes 125,250 --cascade 250:4 --infer-repeats 1 --out runs/sinir-speed/speed.json

``--cascade SIZE:INDEX`` times only the frozen part of the cascade that feeds
scale INDEX (the part the cache and the batching speed up), official
per-iteration loop against cached + batched, alternating.

Prints a table and writes JSON (every measurement, machine, torch threads).
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
from sinkit.core.pyramid import PyramidSpec
from sinkit.core.resize import resize
from sinkit.singan import SinGAN
from sinkit.sinir import SinIR, SinIRNet
from sinkit.sinir.config import PRESETS as SINIR_PRESETS

DEFAULT_IMAGE = str(Path(__file__).resolve().parents[2] / "shared" / "data" / "examples" / "editing" / "nature.jpg")  # ../shared/data
PAPER = {  # Table 1 and sec. 3.2 of the SinIR paper, seconds on an RTX 2080 Ti
    125: {"sinir": 113, "singan": 2189},
    250: {"sinir": 219, "singan": 5439},
    500: {"sinir": 480, "singan": 16077},
}


def square(image: torch.Tensor, size: int) -> torch.Tensor:
    """Centre square crop of ``image`` resized to ``size x size`` (Table 1 uses square images)."""
    h, w = image.shape[-2:]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return resize(image[:, :, top : top + s, left : left + s], (size, size))


def time_training(method, config, image: torch.Tensor, full_iters: int, **kwargs) -> dict:
    """Train ``method`` with ``config`` (few iterations) and extrapolate to ``full_iters`` per scale."""
    start = time.perf_counter()
    model = method.train(image, config, progress=False, device="cpu", **kwargs)
    wall = time.perf_counter() - start
    per_iter = model.info["seconds_per_iter"]
    return {
        "scales": model.num_scales,
        "sizes": [list(s) for s in model.sizes],
        "seconds_per_iter": per_iter,
        "measured_wall_s": wall,
        "extrapolated_s": sum(per_iter) * full_iters,
    }


def time_sinir(image: torch.Tensor, size: int, iters: int, *, cache: bool, bf16: bool = False) -> dict:
    config = replace(SINIR_PRESETS["paper"], max_size=size, iters=iters, bf16=bf16)
    return time_training(SinIR, config, image, SINIR_PRESETS["paper"].iters, cache=cache)


def time_singan(image: torch.Tensor, size: int, iters: int) -> dict:
    paper = SinGAN.presets["paper"]
    return time_training(SinGAN, replace(paper, max_size=size, iters=iters), image, paper.iters)


@torch.no_grad()
def compare_cascade(image: torch.Tensor, size: int, index: int, iters: int, rounds: int) -> dict:
    """Seconds per iteration of the frozen cascade feeding scale ``index``: official loop vs cache + batch.

    Networks are freshly initialised (weights do not change the cost); the two
    variants alternate ``rounds`` times so that both see the same machine load.
    """
    from sinkit.core.pyramid import sinir_pyramid
    from sinkit.sinir.corruptions import make_corruption
    from sinkit.sinir.trainer import cascade_inputs, iteration_generator

    config = replace(SINIR_PRESETS["paper"], max_size=size)
    spec = sinir_pyramid(size, size, max_size=size)
    torch.manual_seed(0)
    nets = [SinIRNet(config.channels).eval().requires_grad_(False) for _ in range(index)]
    model = SinIR(config, spec, resize(image, spec.image_size, antialias=False), nets)
    corrupt = make_corruption(config)
    gens = lambda: [iteration_generator(0, index, it) for it in range(iters)]  # noqa: E731
    official, cached = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        for g in gens():
            cascade_inputs(model, index, corrupt, [g])
        official.append((time.perf_counter() - t) / iters)
        t = time.perf_counter()
        cascade_inputs(model, index, corrupt, gens(), coarsest_output=model.forward_scale(0, model.pyramid[0]))
        cached.append((time.perf_counter() - t) / iters)
    return {
        "size": size, "index": index, "frozen_networks": index, "sizes": [list(s) for s in spec.sizes[: index + 1]],
        "official_s_per_iter": official, "cached_batched_s_per_iter": cached,
    }


@torch.no_grad()
def time_photo_inference(size: int, repeats: int) -> dict:
    """Photo-style model (2 scales, factor 1, 128 channels; weights do not change the cost)."""
    torch.manual_seed(0)
    config = SINIR_PRESETS["photo_style"]
    spec = PyramidSpec(((size, size), (size, size)), 1.0)
    nets = [SinIRNet(config.channels, config.num_blocks).eval() for _ in range(2)]
    model = SinIR(config, spec, torch.zeros(1, 3, size, size), nets)
    content = torch.rand(1, 3, size, size) * 2 - 1
    out = {}
    # paper n = 0 is the finest scale (index 1 here, one network); paper n = 1 is index 0 (both networks)
    for start, name in ((1, "paper_n0"), (0, "paper_n1")):
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            model.run_scales(model.injection_input(content, start), start)
            times.append(time.perf_counter() - t)
        out[f"{name}_s"] = sum(times) / len(times)
        out[f"{name}_all_s"] = times
    return out


def fmt(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", default=DEFAULT_IMAGE, help="source image (centre square crop is used)")
    parser.add_argument("--sizes", default="125,250,500", help="training sizes, px (comma-separated)")
    parser.add_argument("--iters", type=int, default=3, help="measured iterations per scale")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--uncached", default="125,250", help="sizes also timed with the official uncached loop")
    parser.add_argument("--no-singan", action="store_true", help="skip the SinGAN-paper measurements")
    parser.add_argument("--singan-sizes", default="125,250,500", help="sizes at which SinGAN is timed")
    parser.add_argument("--cascade", default="250:4", help="SIZE:INDEX for the cascade comparison ('' to skip)")
    parser.add_argument("--no-infer", action="store_true", help="skip the 1024x1024 photo-style inference timing")
    parser.add_argument("--infer-size", type=int, default=1024, help="photo-style inference size, px")
    parser.add_argument("--infer-repeats", type=int, default=2, help="inference runs averaged (paper: 10)")
    parser.add_argument("--bf16", action="store_true", help="also time SinIR with bfloat16 autocast")
    parser.add_argument("--out", default="sinir_speed.json", help="JSON results file")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    image = sinkit.load_image(args.image)
    results = {
        "machine": {
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "load_average_start": os.getloadavg(),
        },
        "measured_iters_per_scale": args.iters,
        "sizes": {},
    }
    uncached = {int(s) for s in args.uncached.split(",") if s}
    # warm-up: the first convolutions of a process pay for kernel selection and allocation
    time_sinir(square(image, 48), 48, 1, cache=True)
    if not args.no_singan:
        time_singan(square(image, 48), 48, 1)
    for size in (int(s) for s in args.sizes.split(",")):
        img = square(image, size)
        row = {"sinir": time_sinir(img, size, args.iters, cache=True)}
        print(f"{size} px SinIR  {row['sinir']['scales']} scales: {fmt(row['sinir']['extrapolated_s'])}", flush=True)
        if args.bf16:
            row["sinir_bf16"] = time_sinir(img, size, args.iters, cache=True, bf16=True)
            print(f"{size} px SinIR bf16: {fmt(row['sinir_bf16']['extrapolated_s'])}", flush=True)
        if size in uncached:
            row["sinir_uncached"] = time_sinir(img, size, args.iters, cache=False)
            print(f"{size} px SinIR official loop: {fmt(row['sinir_uncached']['extrapolated_s'])}", flush=True)
        if not args.no_singan and str(size) in args.singan_sizes.split(","):
            row["singan"] = time_singan(img, size, args.iters)
            print(f"{size} px SinGAN {row['singan']['scales']} scales: {fmt(row['singan']['extrapolated_s'])}", flush=True)
        results["sizes"][size] = row
    if args.cascade:
        csize, cindex = (int(v) for v in args.cascade.split(":"))
        results["cascade"] = compare_cascade(square(image, csize), csize, cindex, iters=8, rounds=3)
        c = results["cascade"]
        print(f"cascade into scale {cindex} at {csize} px: official {min(c['official_s_per_iter']):.3f} s/it, "
              f"cached+batched {min(c['cached_batched_s_per_iter']):.3f} s/it (best of 3)", flush=True)
    if not args.no_infer:
        results["photo_inference"] = {"size": args.infer_size, **time_photo_inference(args.infer_size, args.infer_repeats)}
    results["machine"]["load_average_end"] = os.getloadavg()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))

    print(f"\nextrapolated training time (measured {args.iters} it/scale, torch threads {torch.get_num_threads()})")
    print("size  scales  SinIR      SinIR-official-loop  SinGAN-paper  speed-up   | paper: SinIR / SinGAN")
    for size, row in results["sizes"].items():
        sinir = row["sinir"]["extrapolated_s"]
        unc = fmt(row["sinir_uncached"]["extrapolated_s"]) if "sinir_uncached" in row else "-"
        sg = row.get("singan", {}).get("extrapolated_s")
        ref = PAPER.get(size)
        print(
            f"{size:4d}  {row['sinir']['scales']:6d}  {fmt(sinir):9s}  {unc:19s}  {fmt(sg) if sg else '-':12s}  "
            f"{f'x{sg / sinir:.1f}' if sg else '-':8s}  | "
            + (f"{fmt(ref['sinir'])} / {fmt(ref['singan'])} (x{ref['singan'] / ref['sinir']:.1f})" if ref else "")
        )
    if "photo_inference" in results:
        p = results["photo_inference"]
        print(f"photo-style inference {p['size']}x{p['size']}: paper n=0 (finest, 1 network) {p['paper_n0_s']:.2f} s, "
              f"n=1 (2 networks) {p['paper_n1_s']:.2f} s (paper, 2080 Ti: 0.189 / 0.381 s)")
    print(f"results: {Path(args.out).resolve()}")


if __name__ == "__main__":
    main()
