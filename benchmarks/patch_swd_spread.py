"""How much does a one-sample-per-image patch_swd vary?  Per-sample scores of a bench folder.

Issue 13's reference, the SinGAN authors' published Places50 samples, is ONE sample per
image, so its mean over 10 images (0.033) carries the spread of single samples.  This script
re-draws the samples of a finished ``sinkit bench`` folder exactly as the bench did (same
count, sampling seed and start scale, read from its ``bench.json``), scores each sample on
its own with :func:`sinkit.metrics.patches.patch_swd`, and prints

* per image: the mean (equal to the bench's ``patch_swd``), min and max over its samples;
* the distribution of "one sample per image, mean over the images" (100 000 random draws):
  median, standard deviation, 5-95 % range, and the share of draws at or under ``--target``.

    python benchmarks/patch_swd_spread.py results/p50/singan-cpu --target 0.033 --json spread.json

Works for any method whose bench folder keeps its models (``models/<run>``).  Costs the
sampling plus one patch_swd per sample (about 40 s per image of 10 samples at 188x250, 1 core).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
from pathlib import Path

import torch

import sinkit
from sinkit.bench.harness import draw_samples
from sinkit.metrics.patches import patch_swd


def per_sample_scores(folder: Path, start_scale: str | None = None) -> dict[str, list[float]]:
    """``{run: [patch_swd of each sample]}`` for every model of a bench folder, samples drawn as the bench drew them."""
    settings = json.loads((folder / "bench.json").read_text())["settings"]
    label = start_scale or settings["start_scales"][0]
    scores = {}
    for run in sorted((folder / "models").iterdir(), key=lambda p: (len(p.name), p.name)):
        model = sinkit.load(run)
        with torch.no_grad():
            samples = draw_samples(model, settings["samples"], settings["seed"], label)
        real = model.training_image()
        scores[run.name] = [patch_swd(samples[b : b + 1], real) for b in range(samples.shape[0])]
        s = scores[run.name]
        print(f"{run.name}: mean {sum(s) / len(s):.4f}, min {min(s):.4f}, max {max(s):.4f}", flush=True)
    return scores


def one_sample_means(scores: dict[str, list[float]], draws: int = 100_000, seed: int = 0) -> list[float]:
    """Sorted means over the images of one randomly chosen sample per image."""
    rng = random.Random(seed)
    values = list(scores.values())
    return sorted(sum(rng.choice(v) for v in values) / len(values) for _ in range(draws))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="a finished `sinkit bench` folder (with models/)")
    parser.add_argument("--target", type=float, default=0.033, help="report the share of one-sample means at or under this (default: 0.033, issue 13)")
    parser.add_argument("--start-scale", default=None, help="start scale to sample from (default: the bench's first)")
    parser.add_argument("--json", type=Path, default=None, help="also write the per-sample scores here")
    args = parser.parse_args()
    scores = per_sample_scores(args.folder, args.start_scale)
    if args.json:
        args.json.write_text(json.dumps(scores, indent=1))
        print(f"per-sample scores: {args.json}")
    means = one_sample_means(scores)
    n = len(means)
    full = sum(sum(v) / len(v) for v in scores.values()) / len(scores)
    print(f"mean over all samples: {full:.4f} ({len(scores)} images)")
    print(
        f"one sample per image: median {means[n // 2]:.4f}, sd {statistics.pstdev(means):.4f}, "
        f"5-95 % {means[n // 20]:.4f}-{means[n - n // 20 - 1]:.4f}, "
        f"share <= {args.target}: {sum(m <= args.target for m in means) / n:.2f}"
    )


if __name__ == "__main__":
    main()
