"""What the windowed coarser-scale draw saves in crop training (SinGAN ``cpu`` preset).

At a crop-trained scale, :class:`~sinkit.singan.trainer.ScaleTrainer` computes the frozen
coarser scales' image only where the training window reads it
(``ScaleTrainer.window_coarser``, the default) instead of on the whole image.  Both give the
same values up to float rounding (``tests/test_singan_training.py``); this script times one
against the other at every scale of a preset, INTERLEAVED in one process (``--rounds`` rounds
of ``--iters`` iterations per mode and scale, so a drift of the machine hits both alike), and
prints seconds per iteration (median of the rounds), the ratio, and the training time
extrapolated to the preset's iterations per scale.

The networks are the preset's after ``--warm`` iterations per scale (their weights do not
change the cost).  Run it alone: two cores are easily oversubscribed.

    python benchmarks/singan_window_draw.py                                   # places50/0.jpg, cpu preset
    python benchmarks/singan_window_draw.py --precision bf16 --iters 10 --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_IMAGE = ROOT.parent / "shared" / "data" / "places50" / "0.jpg"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--image", default=str(DEFAULT_IMAGE), help="training image (default: places50/0.jpg)")
    ap.add_argument("--preset", default="cpu", help="a SinGAN preset with crop_size > 0 (default: cpu)")
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="default: fp32")
    ap.add_argument("--iters", type=int, default=10, help="iterations per mode, scale and round (default: 10)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default: 3)")
    ap.add_argument("--warm", type=int, default=5, help="training iterations per scale before timing (default: 5)")
    ap.add_argument("--json", help="also write the raw figures to this file")
    args = ap.parse_args()

    import torch

    import sinkit
    from sinkit.singan import PRESETS
    from sinkit.singan.trainer import ScaleTrainer, prepare_process

    prepare_process()
    base = PRESETS[args.preset]
    if not base.crop_size:
        raise SystemExit(f"preset {args.preset!r} trains on whole images (crop_size 0): nothing to compare")
    config = replace(base, iters=args.warm, bf16=args.precision == "bf16")
    load = os.getloadavg()[0]
    start = time.strftime("%Y-%m-%d %H:%M")
    model = sinkit.SinGAN.train(sinkit.load_image(args.image), config, device="cpu", progress=False)

    rows = []
    for index in range(model.num_scales):
        times = {True: [], False: []}
        trainers = {}
        for windowed in (True, False):
            trainer = ScaleTrainer(model, index)
            trainer.window_coarser = windowed
            trainer.step()  # warm-up: first-call allocations
            trainers[windowed] = trainer
        for _ in range(args.rounds):
            for windowed in (True, False):
                t = time.perf_counter()
                for _ in range(args.iters):
                    trainers[windowed].step()
                times[windowed].append((time.perf_counter() - t) / args.iters)
        cropped = trainers[True].crop is not None
        rows.append({
            "scale": index, "size": list(model.sizes[index]), "cropped": cropped,
            "whole_draw_s": statistics.median(times[False]), "windowed_draw_s": statistics.median(times[True]),
        })
        for trainer in trainers.values():
            trainer.finish()

    print(f"SinGAN '{args.preset}' preset, {args.image}, {args.precision}, {torch.get_num_threads()} threads; "
          f"started {start}, load average {load:.2f}; {args.rounds} interleaved rounds of {args.iters} iterations\n")
    print("| scale | size (HxW) | trained on | whole-image draw, s/iter | windowed draw, s/iter | ratio |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['scale']} | {r['size'][0]}x{r['size'][1]} | {'crops' if r['cropped'] else 'whole image'} | "
              f"{r['whole_draw_s']:.3f} | {r['windowed_draw_s']:.3f} | {r['whole_draw_s'] / r['windowed_draw_s']:.2f}x |")
    whole = sum(r["whole_draw_s"] for r in rows) * base.iters / 60
    windowed = sum(r["windowed_draw_s"] for r in rows) * base.iters / 60
    print(f"\nextrapolated training ({base.iters} iterations per scale): whole-image draw {whole:.1f} min, "
          f"windowed {windowed:.1f} min ({whole / windowed:.2f}x); load average at the end {os.getloadavg()[0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"preset": args.preset, "precision": args.precision, "load": load,
                                               "start": start, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
