"""SinGAN training and sampling speed for a preset (default: paper) on one image.

Times K iterations at every scale (the networks of earlier scales exist, so the
cost of drawing the coarser-scale inputs is included), prints seconds per
iteration per scale, the extrapolated full training time (``iters`` of the
preset per scale), peak memory and samples per second at full size, for fp32
and bf16 autocast.  Each precision runs in its own process so peak memory is
its own.

    python benchmarks/train_speed.py                         # places50/0.jpg, paper preset, K=10
    python benchmarks/train_speed.py --iters 5 --preset fast --image src/sinkit/data/rocket.jpg
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_IMAGE = ROOT.parent / "shared" / "data" / "places50" / "0.jpg"


def measure(image: str, preset: str, k: int, bf16: bool, device: str, num_samples: int) -> dict:
    import torch

    import sinkit
    from sinkit.singan import PRESETS

    base = PRESETS[preset]
    config = replace(base, iters=k, bf16=bf16)
    img = sinkit.load_image(image)
    start = time.perf_counter()
    model = sinkit.SinGAN.train(img, config, device=device, progress=False)
    wall = time.perf_counter() - start
    spi = model.info["seconds_per_iter"]
    model.sample(2, generator=0)  # warm-up
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    model.sample(num_samples, generator=0, batch_size=num_samples)
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    sample_s = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if model.device.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    return {
        "precision": "bf16" if bf16 else "fp32",
        "device": str(model.device),
        "threads": torch.get_num_threads(),
        "sizes": [list(s) for s in model.sizes],
        "channels": [s.channels for s in model.scales],
        "seconds_per_iter": spi,
        "full_iters": base.iters,
        "extrapolated_s": sum(s * base.iters for s in spi),
        "measured_wall_s": wall,
        "samples_per_s": num_samples / sample_s,
        "sample_size": list(model.sizes[-1]),
        "peak_mb": peak_mb,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--image", default=str(DEFAULT_IMAGE), help="training image (default: places50/0.jpg)")
    ap.add_argument("--preset", default="paper", help="preset to time (default: paper)")
    ap.add_argument("--iters", type=int, default=10, help="iterations timed per scale (default: 10)")
    ap.add_argument("--samples", type=int, default=16, help="samples drawn for samples/s (default: 16)")
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda, mps (default: auto)")
    ap.add_argument("--precision", choices=["fp32", "bf16", "both"], default="both")
    ap.add_argument("--json", help="also write the raw figures to this file")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        print(json.dumps(measure(args.image, args.preset, args.iters, args.precision == "bf16", args.device, args.samples)))
        return

    results = []
    for precision in (["fp32", "bf16"] if args.precision == "both" else [args.precision]):
        cmd = [sys.executable, __file__, "--child", "--image", args.image, "--preset", args.preset, "--iters", str(args.iters),
               "--samples", str(args.samples), "--device", args.device, "--precision", precision]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))

    first = results[0]
    print(f"SinGAN '{args.preset}' preset on {args.image}: {len(first['sizes'])} scales, "
          f"{args.iters} timed iterations per scale, device {first['device']} ({first['threads']} threads)\n")
    header = "| scale | size (HxW) | channels | " + " | ".join(f"{r['precision']} s/iter" for r in results) + " |"
    print(header)
    print("|" + "---|" * (3 + len(results)))
    for i, size in enumerate(first["sizes"]):
        cells = " | ".join(f"{r['seconds_per_iter'][i]:.3f}" for r in results)
        print(f"| {i} | {size[0]}x{size[1]} | {first['channels'][i]} | {cells} |")
    print()
    print("| precision | extrapolated training (%d it/scale) | samples/s at %dx%d | peak memory |"
          % (first["full_iters"], *first["sample_size"]))
    print("|---|---|---|---|")
    for r in results:
        print(f"| {r['precision']} | {r['extrapolated_s'] / 60:.1f} min | {r['samples_per_s']:.2f} | {r['peak_mb']:.0f} MB |")
    if len(results) == 2:
        print(f"\nbf16 / fp32 training time: {results[1]['extrapolated_s'] / results[0]['extrapolated_s']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
