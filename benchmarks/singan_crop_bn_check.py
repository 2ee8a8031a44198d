"""Does a crop-trained SinGAN scale behave differently in sampling than in training?

For every scale of a trained model, feeds the upsampled reconstruction of the
scale below to the generator twice: in eval mode on the whole image (how
sampling runs: batch norm uses running averages) and in training mode on
tiled ``--crop`` px windows (how crop training ran: batch norm uses each
window's own statistics).  Prints, for the top fifth of the image (the sky
on landscapes), the mean RGB change each makes to its input next to the
change the real image needs, and each one's MSE to the real image.  Scales
without batch norm (``norm="uncropped"``, the ``cpu`` preset since it was
fixed) compute the same function both ways; add ``--set norm=batch`` when
training to reproduce the mismatch.

    python benchmarks/singan_crop_bn_check.py results/p50/singan-cpu/models/9 --crop 64
"""

from __future__ import annotations

import argparse
import copy

import torch

import sinkit
from sinkit.core.resize import resize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a trained SinGAN run folder")
    parser.add_argument("--crop", type=int, default=64, help="window side, px (the model's crop_size; default: 64)")
    args = parser.parse_args()
    model = sinkit.load(args.model)
    recs = model.reconstruct(stop=model.num_scales)
    print("| scale | size | sky change, eval (sampling) | sky change, train-mode crops | sky change needed | MSE eval | MSE crops |")
    print("|---|---|---|---|---|---|---|")
    for k in range(1, model.num_scales):
        scale = model.scales[k]
        h, w = scale.size
        x_up = resize(recs[k - 1], (h, w))
        z = torch.zeros(1, 3, h, w)
        with torch.no_grad(), model._autocast():
            sampled = scale.generate(x_up, z).float()
            trained = copy.deepcopy(scale)
            trained.generator.train()
            tiles = torch.zeros_like(sampled)
            for top in range(0, h, args.crop):
                for left in range(0, w, args.crop):
                    ch, cw = min(args.crop, h - top), min(args.crop, w - left)
                    tiles[:, :, top : top + ch, left : left + cw] = trained.generate(x_up, z, window=(top, left, ch, cw)).float()
        real = model.pyramid[k]
        sky = slice(0, h // 5)

        def change(x: torch.Tensor) -> str:
            return " ".join(f"{v:+.3f}" for v in (x[:, :, sky] - x_up[:, :, sky]).mean((0, 2, 3)).tolist())

        def mse(x: torch.Tensor) -> str:
            return f"{torch.mean((x - real) ** 2).item():.4f}"

        print(f"| {k} | {h}x{w} | {change(sampled)} | {change(tiles)} | {change(real)} | {mse(sampled)} | {mse(tiles)} |")


if __name__ == "__main__":
    main()
