"""PetsGAN `fast` samples carry an 8 px grid (one LR pixel of the x8 IR network): measure it, and test
two suspected causes (docs/petsgan.md, "The 8 px grid").

Grid score: the mean absolute horizontal (vertical) difference between neighbouring pixels, per
phase ``column mod 8`` (``row mod 8``); the score is max / min over the 8 phases.  An image without
an 8 px period scores ~1.1 (the Places50 images: 1.10-1.24); a visible grid 1.3 and above.

* ``ir``: train the IR network alone (the preset's DIPNet phase, no DEPNet / joint phase) with
  each upsampling variant and print its restoration of the training image, PSNR and grid score:
  ``conv`` (5x5 conv to 4c + PixelShuffle, the official default ``upmode='conv'``), ``interp``
  (bilinear x2, the official ``upmode='interp'`` option) and ``icnr`` (``conv`` with ICNR
  initialisation, Aitken et al. 2017: every sub-pixel starts equal, no checkerboard at init).
* ``joint``: continue the joint phase (hinge GAN on HR + L1 reconstruction, G frozen as in
  `fast`) of a model a ``sinkit bench --method petsgan`` run saved, at a given IR learning rate,
  and score 10 samples (seed 0, as the bench) every ``--every`` iterations: grid, patch_swd,
  pixel diversity, restoration and reconstruction PSNR, and sharpness (:func:`sharpness`).
  Writes ``<out>/joint_<lr>.png`` (rows: the image and 4 samples before, then after).

Usage::

    python benchmarks/petsgan_grid.py ir --image ../shared/data/places50/1.jpg --iters 3000
    python benchmarks/petsgan_grid.py joint results/s9/petsgan-fast/models/1 --lr 1e-4 --iters 600
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn as nn

import sinkit
from sinkit.core.io import save_grid
from sinkit.metrics import psnr
from sinkit.metrics.patches import patch_swd, pixel_diversity
from sinkit.petsgan import PRESETS, prepare_images
from sinkit.petsgan.model import PetsGAN
from sinkit.petsgan.training import PetsGANTrainer


def grid_score(x: torch.Tensor, period: int = 8) -> tuple[float, float]:
    """``(B, C, H, W)`` images -> (horizontal, vertical) grid score, max / min over the ``period`` phases."""
    gx = (x[..., :, 1:] - x[..., :, :-1]).abs().mean(dim=(0, 1, 2))
    gy = (x[..., 1:, :] - x[..., :-1, :]).abs().mean(dim=(0, 1, 3))

    def ratio(g: torch.Tensor) -> float:
        phases = torch.stack([g[i::period].mean() for i in range(period)])
        return float(phases.max() / phases.min())

    return ratio(gx), ratio(gy)


def sharpness(x: torch.Tensor, real: torch.Tensor) -> float:
    """Mean squared 3x3 Laplacian of the grey levels of ``x`` ``(B, 3, H, W)`` over that of ``real``
    (1 = as much fine detail as the image; artefacts count too, so look at the samples)."""
    kernel = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]).view(1, 1, 3, 3)

    def energy(y: torch.Tensor) -> float:
        return float(torch.nn.functional.conv2d(y.mean(1, keepdim=True), kernel.to(y)).pow(2).mean())

    return energy(x) / energy(real)


def _fmt(x: torch.Tensor) -> str:
    return "%.2f/%.2f" % grid_score(x)


def to_interp(ir: nn.Module) -> None:
    """Replace each stage's conv-to-4c + PixelShuffle by a bilinear x2 (official ``upmode='interp'``)."""
    for stage in ir.stages:
        stage[2], stage[3] = nn.Upsample(scale_factor=2.0, mode="bilinear"), nn.Identity()


def to_icnr(ir: nn.Module) -> None:
    """ICNR: the 4 sub-pixel outputs of each PixelShuffle conv start as copies of one kernel."""
    for stage in ir.stages:
        conv = stage[2][0]
        with torch.no_grad():
            conv.weight.copy_(conv.weight[::4].repeat_interleave(4, 0))
            conv.bias.copy_(conv.bias[::4].repeat_interleave(4, 0))


VARIANTS = {"conv": lambda ir: None, "interp": to_interp, "icnr": to_icnr}


def run_ir(args) -> None:
    image = sinkit.load_image(args.image)
    grid = []
    for name in args.variants.split(","):
        config = replace(PRESETS[args.preset], dip_iters=args.iters, ir_lr_step=max(1, args.iters // 3))
        hr, _ = prepare_images(image, config.max_size, config.factor)
        torch.manual_seed(config.seed)
        model = PetsGAN(config, {"image": hr})
        VARIANTS[name](model.ir)
        trainer = PetsGANTrainer(model, build_prior=False)  # the DIPNet phase needs no prior set
        start, history = time.perf_counter(), []
        while trainer.iteration["dip"] < args.iters:
            trainer.step("dip")
            if trainer.iteration["dip"] % args.every == 0 or trainer.iteration["dip"] == args.iters:
                with torch.no_grad():
                    history.append(f"{psnr(model.eval().restore(), model.real):.2f}")
        with torch.no_grad():
            restored = model.restore()
        print(f"{name}: restoration PSNR {' '.join(history)} dB; grid {_fmt(restored)} "
              f"(image {_fmt(model.real)}); {time.perf_counter() - start:.0f} s", flush=True)
        grid += [model.real, restored]
    path = args.out / f"ir_{Path(args.image).stem}.png"
    save_grid(torch.cat(grid), path, ncol=2)
    print(f"-> {path}")


def run_joint(args) -> None:
    model = sinkit.load(args.model)
    model.config = replace(model.config, joint_iters=args.iters, lr_joint_ir=args.lr)
    trainer = PetsGANTrainer(model, build_prior=False)
    trainer.iteration["dep"], trainer.iteration["dip"] = model.config.dep_iters, model.config.dip_iters
    start = time.perf_counter()

    def report() -> torch.Tensor:
        model.eval()
        with torch.no_grad():
            samples, restored = model.sample(10, generator=0), model.restore()
            reconstructed = model.reconstruction()
        swd = sum(patch_swd(s[None], model.real) for s in samples) / len(samples)
        print(f"lr {args.lr:g}, joint iteration {trainer.iteration['joint']}: grid {_fmt(samples)} "
              f"(image {_fmt(model.real)}), patch_swd {swd:.4f}, diversity {pixel_diversity(samples, model.real):.3f}, "
              f"restoration {psnr(restored, model.real):.2f} dB, reconstruction {psnr(reconstructed, model.real):.2f} dB, "
              f"sharpness {sharpness(samples, model.real):.3f}; {time.perf_counter() - start:.0f} s", flush=True)
        return samples

    before = report()
    after = before
    while trainer.iteration["joint"] < args.iters:
        trainer.joint_step(trainer.generator)
        if trainer.iteration["joint"] % args.every == 0 or trainer.iteration["joint"] == args.iters:
            after = report()
    path = args.out / f"joint_{args.lr:g}.png"
    save_grid(torch.cat([model.real, before[:4], model.real, after[:4]]), path, ncol=5)
    print(f"-> {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    ir = sub.add_parser("ir", help="IR network alone, upsampling variants")
    ir.add_argument("--image", default="../shared/data/places50/1.jpg", help="training image (default: %(default)s)")
    ir.add_argument("--variants", default="conv,interp,icnr", help="comma-separated, of %s (default: %%(default)s)"
                    % ", ".join(VARIANTS))
    ir.add_argument("--preset", default="fast", help="preset the variants change (default: %(default)s)")
    ir.add_argument("--iters", type=int, default=3000, help="DIPNet iterations, 96 px crops (default: %(default)s)")
    ir.add_argument("--every", type=int, default=1000, help="print the PSNR every N iterations (default: %(default)s)")
    joint = sub.add_parser("joint", help="continue the joint phase of a saved model")
    joint.add_argument("model", help="a saved PetsGAN model folder (e.g. a bench run's models/<i>)")
    joint.add_argument("--lr", type=float, default=1e-4, help="IR learning rate (`fast`: 2e-5) (default: %(default)s)")
    joint.add_argument("--iters", type=int, default=600, help="further joint iterations (default: %(default)s)")
    joint.add_argument("--every", type=int, default=200, help="score every N iterations (default: %(default)s)")
    for p in (ir, joint):
        p.add_argument("--out", type=Path, default=Path("results/petsgan-grid"), help="figure folder (default: %(default)s)")
        p.add_argument("--threads", type=int, default=2, help="intra-op threads (default: %(default)s)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    (run_ir if args.what == "ir" else run_joint)(args)


if __name__ == "__main__":
    main()
