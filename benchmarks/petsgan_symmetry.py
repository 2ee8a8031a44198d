"""PetsGAN `fast` samples are left-right symmetric: measure it, and what the mirrors in the prior set and
in the patch-transfer reference have to do with it (docs/petsgan.md, "why `fast` samples are
mirror-symmetric").

Works on the models a ``sinkit bench --method petsgan`` run saved (``RUN/models/<i>``) and scores
10 samples per image with seed 0, as the bench does: patch_swd, nn_patch, pixel diversity and an
asymmetry score ``RMS(x - mirror(x)) / RMS(x - mean(x))`` (0 = perfectly symmetric; the image's own
score is printed beside it).

* ``--pt``: sampling-time variants of the patch transfer on the same models and noise: rounds
  (``pt_iters`` 1 / 10), a reference without the LR image's mirror (``pt_mirror=False``), a
  centre-pixel paste (``pt_paste='centre'``), eq. 7's averaged paste (``pt_paste='average'``, for
  models trained with the centre paste), the median paste (``pt_paste='median'``) and
  combinations; and the HR refinement of the samples (``hr_refine``: GPNN's patch nearest neighbours
  through the 5 to 10 finest levels of the HR image's pyramid, 10 or 3 iterations each).  Each changes
  the model's own config (``--variants`` picks some).  Cheap: no training.
* Neither: only the models as trained (their own config: `fast` models refine their samples), with
  the IR network's restoration of the training image (``restore_psnr``, dB: ``IR(LR)`` against HR).
* ``--depnet JSON``: train DEPNet again with these config overrides on top of the model's own
  config (e.g. ``'{"prior_mirrors": false}'``), put it into the model in place of its DEPNet (the
  DIPNet is kept: `fast`'s joint phase does not move G) and score.  ~3 min per image on 2 cores.

Usage::

    python benchmarks/petsgan_symmetry.py results/s9/petsgan-fast --images 0,1,2 --pt
    python benchmarks/petsgan_symmetry.py results/p50/petsgan-fast --images 0,1,2,3,4,5,6,7,8,9 --pt \\
        --variants 1round,10rounds --metrics patch_swd,diversity
    python benchmarks/petsgan_symmetry.py results/s9/petsgan-fast --images 2,0,1 --depnet '{"prior_mirrors": false}' \\
        --out results/s9/no-mirrors
    python benchmarks/petsgan_symmetry.py results/dip3000/petsgan-fast --images 0,1,2,3,4,5,6,7,8,9 \\
        --metrics diversity --out results/dip3000/scores
    python benchmarks/petsgan_symmetry.py results/p50/petsgan-fast --images 0,1,2,3,4,5,6,7,8,9 --pt \
        --variants refine6,refine6-3it --metrics patch_swd,nn_patch,diversity --out results/refine \
        --compare results/p50/singan-fast
    python benchmarks/petsgan_symmetry.py results/p50/petsgan-fast --images 0,1,2,3,4,5,6,7,8,9 --pt --skip-trained \
        --variants refine8,refine9,refine10 --metrics patch_swd,nn_patch,diversity --out results/levels
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

import sinkit
from sinkit.core.io import load_image, save_image
from sinkit.core.resize import resize
from sinkit.metrics.evaluate import evaluate_samples
from sinkit.petsgan import PetsGAN

from petsgan_grid import sharpness

METRICS = ["patch_swd", "nn_patch", "diversity"]
#: --pt: key -> (name, changes to the model's config); sampling only, on top of the model's own config
PT_VARIANTS = {
    "1round": ("1 round", {"pt_iters": 1}),
    "10rounds": ("10 rounds (paper)", {"pt_iters": 10}),
    "nomirror": ("reference without the mirror", {"pt_mirror": False}),
    "centre": ("centre-pixel paste", {"pt_paste": "centre"}),
    "nomirror10": ("no mirror + 10 rounds", {"pt_mirror": False, "pt_iters": 10}),
    "nomirror-centre": ("no mirror + centre-pixel paste", {"pt_mirror": False, "pt_paste": "centre"}),
    "average": ("windows averaged (paper eq. 7)", {"pt_paste": "average"}),
    "average10": ("windows averaged + 10 rounds", {"pt_paste": "average", "pt_iters": 10}),
    "median": ("median paste", {"pt_paste": "median"}),
    "median10": ("median paste + 10 rounds", {"pt_paste": "median", "pt_iters": 10}),
    "refine5": ("HR refinement, 5 levels", {"hr_refine": 5}),
    "refine6": ("HR refinement, 6 levels", {"hr_refine": 6}),
    "refine6-3it": ("HR refinement, 6 levels x 3 iterations", {"hr_refine": 6, "hr_refine_iters": 3}),
    "refine7": ("HR refinement, 7 levels", {"hr_refine": 7}),
    "refine8": ("HR refinement, 8 levels (from ~1/8 scale)", {"hr_refine": 8}),
    "refine9": ("HR refinement, 9 levels", {"hr_refine": 9}),
    "refine10": ("HR refinement, all 10 levels", {"hr_refine": 10}),
}


def asymmetry(x: torch.Tensor) -> float:
    """Mean over the batch of ``RMS(x - mirror(x)) / RMS(x - mean(x))``; ``x`` is ``(B, 3, H, W)``."""
    d = (x - x.flip(-1)).pow(2).mean(dim=(1, 2, 3)).sqrt()
    s = (x - x.mean(dim=(2, 3), keepdim=True)).pow(2).mean(dim=(1, 2, 3)).sqrt()
    return float((d / s).mean())


def score(model, real: torch.Tensor, num: int, metrics=METRICS, **facts) -> tuple[dict, torch.Tensor]:
    """Draw ``num`` samples with seed 0 as the bench does; returns (the printed row, the samples)."""
    t0 = time.perf_counter()
    with torch.no_grad():
        samples = model.sample(num, generator=0)
    seconds = (time.perf_counter() - t0) / num
    row = evaluate_samples(samples, real, metrics=metrics)
    with torch.no_grad():
        mse = ((model.restore().clamp(-1, 1) - real) / 2).pow(2).mean()
    row.update(facts, asym=asymmetry(samples), asym_real=asymmetry(real), sharpness=sharpness(samples, real),
               s_per_sample=round(seconds, 3), restore_psnr=round(float(-10 * torch.log10(mse)), 2))
    print(json.dumps(row), flush=True)
    return row, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("run", type=Path, help="a `sinkit bench --method petsgan` output folder (holds models/<i>)")
    parser.add_argument("--images", default="0,1,2", help="comma-separated image indices of that run")
    parser.add_argument("--dataset", type=Path, default=Path("../shared/data/places50"),
                        help="where <i>.jpg lies (--depnet trains on it)")
    parser.add_argument("--pt", action="store_true", help="score sampling-time patch-transfer variants")
    parser.add_argument("--depnet", help="JSON config overrides: retrain DEPNet with them and score")
    parser.add_argument("--variants", default=",".join(PT_VARIANTS),
                        help="with --pt: comma-separated variants, of " + ", ".join(PT_VARIANTS))
    parser.add_argument("--metrics", default=",".join(METRICS),
                        help="comma-separated metrics (nn_patch costs ~5 s per sample at 248 px)")
    parser.add_argument("--skip-trained", action="store_true",
                        help="do not score the models as trained (only the --pt / --depnet variants)")
    parser.add_argument("--num", type=int, default=10, help="samples per image (seed 0)")
    parser.add_argument("--compare", type=Path,
                        help="with --out: another `sinkit bench` output folder (e.g. RUN/singan-fast) whose models' "
                             "samples (seed 0) form the sheet's first row, resized to this size for viewing only")
    parser.add_argument("--out", type=Path, help="write <i>.png (6 samples: the model's, then those of the nomirror-centre, median and refine* variants, or of the only --variants given, and/or of the DEPNet variant) and rows.json here")
    args = parser.parse_args()
    variants = args.variants.split(",")
    unknown = set(variants) - set(PT_VARIANTS)
    if unknown:
        parser.error(f"unknown --variants {sorted(unknown)}; known: {', '.join(PT_VARIANTS)}")
    metrics = args.metrics.split(",")
    rows = []
    for i in args.images.split(","):
        model = sinkit.load(args.run / "models" / i, device="cpu")
        real, config = model.training_image(), model.config
        tiles = []
        if not args.skip_trained:
            row, base = score(model, real, args.num, metrics, image=i, variant="as trained")
            rows.append(row)
            tiles.append(base[:6])
        if args.compare:
            other = sinkit.load(args.compare / "models" / i, device="cpu")
            with torch.no_grad():
                tiles.insert(0, resize(other.sample(6, generator=0), tuple(real.shape[-2:])))
        if args.pt:
            for key in variants:
                name, change = PT_VARIANTS[key]
                model.config = dataclasses.replace(config, **change)
                row, samples = score(model, real, args.num, metrics, image=i, variant=name)
                rows.append(row)
                if key in ("nomirror-centre", "median") or key.startswith("refine") or len(variants) == 1:
                    tiles.append(samples[:6])
            model.config = config
        if args.depnet:
            overrides = json.loads(args.depnet)
            cfg = dataclasses.replace(config, dip_iters=0, joint_iters=0, hr_iters=0, **overrides)
            t0 = time.perf_counter()
            depnet_only = PetsGAN.fit(load_image(args.dataset / f"{i}.jpg"), cfg, progress=False)
            seconds = time.perf_counter() - t0
            model.depnet.load_state_dict(depnet_only.depnet.state_dict())
            row, samples = score(model, real, args.num, metrics, image=i, variant=f"DEPNet with {overrides}", depnet_s=round(seconds, 1))
            rows.append(row)
            tiles.append(samples[:6])
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            save_image(torch.cat([torch.cat(list(t), dim=-1) for t in tiles], dim=-2), args.out / f"{i}.png")
    if args.out:
        (args.out / "rows.json").write_text(json.dumps(rows, indent=1))
    print("| variant | images | patch_swd | nn_patch | diversity | asymmetry (image's) | sharpness | s per sample | IR restoration, dB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in dict.fromkeys(r["variant"] for r in rows):
        sel = [r for r in rows if r["variant"] == name]
        mean = {k: sum(r[k] for r in sel) / len(sel) for k in metrics + ["asym", "asym_real", "sharpness", "s_per_sample", "restore_psnr"]}
        mean = {k: mean.get(k, float("nan")) for k in METRICS} | mean
        print(f"| {name} | {len(sel)} | {mean['patch_swd']:.4f} | {mean['nn_patch']:.4f} | {mean['diversity']:.3f} | "
              f"{mean['asym']:.2f} ({mean['asym_real']:.2f}) | {mean['sharpness']:.2f} | {mean['s_per_sample']:.2f} | "
              f"{mean['restore_psnr']:.1f} |")


if __name__ == "__main__":
    main()
