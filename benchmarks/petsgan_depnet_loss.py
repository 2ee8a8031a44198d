"""PetsGAN: does DEPNet collapse?  Train DEPNet alone (the `fast` preset, no DIPNet / joint
phase) with different GAN losses and print the pixel diversity of its LR samples.

    python benchmarks/petsgan_depnet_loss.py --image ../shared/data/places50/0.jpg ns wgan ns_collapse10 ns_rec5

Each variant: ~2 min on one core (bf16).  Writes ``<out>/<variant>.png`` (the LR image, then
7 LR samples, enlarged) and prints ``variant: seconds, LR diversity, rec mse``.  For scale: the
`augment` prior set's own pixel diversity is printed first.  Results: docs/petsgan.md.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import torch

import sinkit
from sinkit.core.resize import resize
from sinkit.metrics import pixel_diversity
from sinkit.petsgan.config import PRESETS
from sinkit.petsgan.priors import build_prior_set

VARIANTS = {
    "ns": {"dep_loss": "ns"},  # paper eq. 6 (the `fast` default before 2026-12-05)
    "wgan": {"dep_loss": "wgan-gp"},  # the official code's critic (the `fast` default now)
    "ns_collapse10": {"dep_loss": "ns", "dep_collapse_weight": 10.0},
    "ns_rec5": {"dep_loss": "ns", "dep_rec_weight": 5.0},
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("variants", nargs="+", choices=list(VARIANTS))
    ap.add_argument("--image", default="../shared/data/places50/0.jpg")
    ap.add_argument("--out", type=Path, default=Path("results/petsgan-depnet-loss"))
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    img = sinkit.load_image(args.image)
    for name in args.variants:
        cfg = replace(PRESETS["fast"], dip_iters=0, joint_iters=0, bf16=True, **VARIANTS[name])
        start = time.perf_counter()
        m = sinkit.PetsGAN.fit(img, cfg, progress=False)
        seconds = time.perf_counter() - start
        if name == args.variants[0]:
            prior = build_prior_set(m.hr, m.lr, m.config, torch.Generator().manual_seed(0))
            print(f"prior set ({prior.kind}, {prior.images.shape[0]} images): diversity {pixel_diversity(prior.images[:60], m.lr):.3f}")
        with torch.no_grad():
            lr = m.sample_lr(10, generator=1)
            rec = float(((m.depnet(m.fixed_noise) - m.lr) ** 2).mean())
        print(f"{name}: {seconds:.0f} s, LR diversity {pixel_diversity(lr, m.lr):.3f}, rec mse {rec:.4f}", flush=True)
        size = tuple(m.hr.shape[-2:])
        sinkit.save_grid([resize(m.lr, size)] + [resize(x[None], size) for x in lr[:7]], args.out / f"{name}.png", ncol=4)


if __name__ == "__main__":
    main()
