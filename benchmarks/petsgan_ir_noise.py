"""PetsGAN: what makes the `fast` IR network blurry?  Train the IR network alone (DIPNet phase of
a preset, no DEPNet / joint phase) with variants and print its restoration of the training image.

    python benchmarks/petsgan_ir_noise.py --image ../shared/data/places50/2.jpg noise03 noise0 \
        noise03_official_lr noise0_official_lr

Variants change the IR input noise (official: N(0, 0.3) on half of the inputs, eq. 8's "small
disturbance"; `fast` since 2026-12-06: none) and the LR image (ours: antialiased bicubic; the
official code: ``F.interpolate(mode='bicubic', align_corners=True)``, aliased).  Each variant:
about 2 min with 2 threads (3000 iterations on 96 px crops, bf16).  Prints ``variant: PSNR of
IR(LR) against the HR image every 500 iterations, seconds`` and writes ``<out>/restoration.png``
(per variant: HR image, restoration).  Results: docs/petsgan.md ("The IR input noise").
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F

import sinkit
from sinkit.core.io import save_grid
from sinkit.metrics import psnr
from sinkit.petsgan import PRESETS, prepare_images
from sinkit.petsgan.model import PetsGAN
from sinkit.petsgan.training import PetsGANTrainer

#: name -> (config changes, official LR)
VARIANTS = {
    "noise03": ({"ir_noise_p": 0.5, "ir_noise_std": 0.3}, False),  # official noise (`fast` before 2026-12-06)
    "noise01": ({"ir_noise_p": 0.5, "ir_noise_std": 0.1}, False),
    "noise0": ({"ir_noise_p": 0.0}, False),  # `fast` now
    "noise03_official_lr": ({"ir_noise_p": 0.5, "ir_noise_std": 0.3}, True),
    "noise0_official_lr": ({"ir_noise_p": 0.0}, True),
    "noise03_whole_1000": ({"ir_noise_p": 0.5, "ir_noise_std": 0.3, "crop_size": 0, "dip_iters": 1000,
                            "ir_lr_step": 333}, False),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("variants", nargs="+", choices=list(VARIANTS), help="variants to train, one after the other")
    ap.add_argument("--image", default="../shared/data/places50/2.jpg", help="training image (default: %(default)s)")
    ap.add_argument("--preset", default="fast", help="preset the variants change (default: %(default)s)")
    ap.add_argument("--out", type=Path, default=Path("results/petsgan-ir-noise"),
                    help="folder for restoration.png (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=2, help="intra-op threads (default: %(default)s)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    image = sinkit.load_image(args.image)
    grid = []
    for name in args.variants:
        changes, official_lr = VARIANTS[name]
        config = replace(PRESETS[args.preset], **changes)
        hr, _ = prepare_images(image, config.max_size, config.factor)
        torch.manual_seed(config.seed)
        model = PetsGAN(config, {"image": hr})
        if official_lr:  # official _read_image: bicubic, align_corners=True, no antialiasing
            with torch.no_grad():
                model.lr.copy_(F.interpolate(model.real, size=model.lr.shape[-2:], mode="bicubic", align_corners=True))
        trainer = PetsGANTrainer(model, build_prior=False)  # the DIPNet phase needs no prior set
        start, history = time.perf_counter(), []
        while trainer.iteration["dip"] < config.dip_iters:
            trainer.step("dip")
            if trainer.iteration["dip"] % 500 == 0 or trainer.iteration["dip"] == config.dip_iters:
                with torch.no_grad():
                    history.append(f"{psnr(model.eval().restore(), model.real):.2f}")
        seconds = time.perf_counter() - start
        print(f"{name}: restoration PSNR {' '.join(history)} dB; {seconds:.0f} s", flush=True)
        with torch.no_grad():
            grid += [model.real, model.restore()]
    save_grid(torch.cat(grid), args.out / "restoration.png", ncol=2)
    print(f"-> {args.out / 'restoration.png'}")


if __name__ == "__main__":
    main()
