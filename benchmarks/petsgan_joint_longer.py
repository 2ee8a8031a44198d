"""Does a longer joint phase sharpen PetsGAN `fast` samples?  Continue the joint (co-learning) phase
of finished `fast` models and score their samples as the bench does (docs/petsgan.md, "2026-12-07,
morning").

Works on the models a ``sinkit bench --method petsgan`` run saved (``RUN/models/<i>``).  A finished
model keeps no discriminator, so the continuation starts with a fresh ``D_hr`` (and the phase's
warm-up); everything else is the model's own config with ``joint_iters`` = ``--iters`` plus the
``--set`` fields.  At each ``--marks`` iteration: patch_swd and pixel diversity of 10 samples with
seed 0 (:func:`petsgan_symmetry.score`), the reconstruction's PSNR, and a sharpness ratio: the
mean squared Laplacian of the samples' grey levels over that of the training image (1 = as much
fine detail as the image; it also counts artefacts, so look at the picture).  Writes
``OUT/<i>.png`` (one row of 5 samples per mark, the model as trained first) and ``OUT/<i>.json``.
About 0.45 s per joint iteration on 2 cores.

Usage::

    python benchmarks/petsgan_joint_longer.py results/ten/petsgan-fast --images 9,5 --iters 900 --marks 300,900
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import sinkit
from petsgan_symmetry import score  # benchmarks/ is on sys.path when this runs as a script
from sinkit.core.config import parse_overrides
from sinkit.core.io import save_image
from sinkit.metrics import psnr
from sinkit.petsgan.training import PHASES, PetsGANTrainer


def laplacian_energy(x: torch.Tensor) -> float:
    """Mean squared 3x3 Laplacian of the grey levels of ``x`` ``(B, 3, H, W)`` in ``[-1, 1]``."""
    grey = x.mean(1, keepdim=True)
    kernel = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=grey.dtype).view(1, 1, 3, 3)
    return float(F.conv2d(grey, kernel).pow(2).mean())


def measure(model, real: torch.Tensor, tag: str, **facts) -> tuple[dict, torch.Tensor]:
    row, samples = score(model, real, 10, ["patch_swd", "diversity"], variant=tag, **facts)
    with torch.no_grad():
        row["rec_psnr"] = psnr(model.reconstruction(), real)
    row["sharpness"] = laplacian_energy(samples) / laplacian_energy(real)
    print(f"  {tag}: rec {row['rec_psnr']:.2f} dB, sharpness {row['sharpness']:.3f}", flush=True)
    return row, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("run", type=Path, help="a `sinkit bench --method petsgan` output folder (holds models/<i>)")
    parser.add_argument("--images", default="9,5", help="comma-separated image indices of that run")
    parser.add_argument("--iters", type=int, default=900, help="joint iterations to run on top of the finished model")
    parser.add_argument("--marks", default="300,900", help="comma-separated iterations at which to score")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="config fields for the continuation, e.g. lr_joint_ir=1e-4")
    parser.add_argument("--out", type=Path, default=Path("results/petsgan-joint-longer"))
    args = parser.parse_args()
    marks = {int(m) for m in args.marks.split(",")}
    args.out.mkdir(parents=True, exist_ok=True)
    for i in args.images.split(","):
        model = sinkit.load(args.run / "models" / i, device="cpu")
        real = model.training_image()
        rows, tiles = [], []
        row, samples = measure(model, real, "as trained", image=i)
        rows.append(row)
        tiles.append(samples[:5])
        model.config = dataclasses.replace(model.config, joint_iters=args.iters,
                                           **parse_overrides(args.set, model.config))
        trainer = PetsGANTrainer(model, build_prior=False)
        trainer.iteration = {p: (0 if p in ("joint", "hr") else trainer.phase_length(p)) for p in PHASES}
        start = time.perf_counter()
        for k in range(1, args.iters + 1):
            losses = trainer.step("joint")
            if k % 100 == 0:
                print(f"image {i} joint +{k}: " + ", ".join(f"{a} {b:.3g}" for a, b in losses.items())
                      + f" ({time.perf_counter() - start:.0f} s)", flush=True)
            if k in marks:
                model.eval()
                row, samples = measure(model, real, f"+{k} joint", image=i, settings=args.set)
                rows.append(row)
                tiles.append(samples[:5])
                model.train()
        save_image(torch.cat([torch.cat(list(t), dim=-1) for t in tiles], dim=-2), args.out / f"{i}.png")
        (args.out / f"{i}.json").write_text(json.dumps(rows, indent=1))
        print(f"wrote {args.out / f'{i}.png'}, {args.out / f'{i}.json'}")


if __name__ == "__main__":
    main()
