"""Layout proxy: train only a SinGAN preset's whole-image scales and score their samples.

A sample drawn from start scale N gets its layout at the coarsest scale: the finer scales add
noise of amplitude ~0.01 (``noise_amp_init`` x the reconstruction RMSE), so most of the
sample-to-sample spread of patch_swd is decided there.  With ``crop_size`` set, the scales
trained on the whole image are the coarse ones (three of ten at 188x250 with the ``cpu``
preset), a fifth of the training time.  This script trains just those (``stop_after``), draws
``--samples`` samples from the coarsest scale with sampling seed 0 at the last trained scale's
size, and scores them against the training image resized to that size, so a change to the
coarse scales' training can be screened in minutes instead of a full run.  It is a screen, not
a ranking: its spread over training seeds (``--set seed=K``) is as large as the effects it was
used on, so compare settings over several seeds (docs/singan.md, "Tried and not taken").

    python benchmarks/singan_coarse_proxy.py ../shared/data/places50/6.jpg                       # the preset as is
    python benchmarks/singan_coarse_proxy.py ../shared/data/places50/6.jpg --set d_steps=3 --set g_steps=3

Prints one JSON line (also appended to ``--out`` when given): the overrides, the number of
scales trained, their size, training seconds, patch_swd, nn_patch, pixel diversity and each
scale's last critic loss.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from sinkit.core.config import parse_overrides, replace_config
from sinkit.core.io import load_image
from sinkit.metrics.evaluate import evaluate_samples
from sinkit.singan.config import PRESETS
from sinkit.singan.trainer import pyramid_spec, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("image", help="training image")
    parser.add_argument("--preset", default="cpu", choices=sorted(PRESETS), help="SinGAN preset (default: cpu)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="config override (repeatable)")
    parser.add_argument("--samples", type=int, default=10, help="samples to score (default: 10)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default: 1, two runs side by side)")
    parser.add_argument("--out", type=Path, default=None, help="append the JSON line to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base = PRESETS[args.preset]
    overrides = parse_overrides(args.overrides, base)
    config = replace_config(base, **overrides)
    if not config.crop_size:
        parser.error("the preset trains every scale on the whole image: set crop_size to have coarse whole-image scales")
    image = load_image(args.image)
    whole = sum(1 for size in pyramid_spec(config, *image.shape[-2:]).sizes if config.crop_at(size) is None)
    start = time.perf_counter()
    model = train(image, config, progress=False, stop_after=whole)
    seconds = time.perf_counter() - start
    with torch.no_grad():
        samples = model.sample(args.samples, generator=0, start_scale=0)
    scores = evaluate_samples(samples, model.training_image(), metrics=["patch_swd", "nn_patch", "diversity"])
    row = {
        "image": Path(args.image).name,
        "preset": args.preset,
        "overrides": overrides,
        "scales": whole,
        "size": list(samples.shape[-2:]),
        "train_s": round(seconds, 1),
        **{k: round(v, 4) for k, v in scores.items()},
        "d_last": [round(loss["d_last"], 2) for loss in model.info["losses"]],
    }
    line = json.dumps(row)
    print(line)
    if args.out:
        with open(args.out, "a") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
