"""PetsGAN: does the `fast` IR network die in the DIPNet phase, and does ``ir_guard`` bring it back?

Trains the DIPNet phase alone (`fast` with ``dep_iters=0, joint_iters=0``) once per variant, each a
comma-separated list of config fields on top of `fast`, and prints the mean IR loss of the last 100
steps, whether the finished IR network is saturated (``ir_saturated``), the IR gradient norm
(median / 99th percentile) and the guard's rollbacks.  A raised IR learning rate makes the death
that happened once at `fast`'s own rate (places50/5.jpg) happen within a few dozen steps:

    python benchmarks/petsgan_guard.py --image ../shared/data/places50/5.jpg \\
        lr_ir=2e-3,seed=0,ir_guard=false lr_ir=2e-3,seed=0 lr_ir=2e-3,seed=1,ir_guard=false lr_ir=2e-3,seed=1

Values as ``sinkit train --set`` reads them (JSON: ``true``, ``2e-3``).  About 2 min per variant with 2 threads (1500 iterations).
Results: docs/petsgan.md ("2026-12-07").
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from sinkit.core.config import parse_overrides
from sinkit.core.io import load_image
from sinkit.petsgan import PRESETS
from sinkit.petsgan.model import PetsGAN
from sinkit.petsgan.training import PetsGANTrainer, ir_saturated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", nargs="+", help="config fields per variant, e.g. lr_ir=2e-3,seed=1,ir_guard=false")
    parser.add_argument("--image", required=True, help="training image")
    parser.add_argument("--iters", type=int, default=1500, help="DIPNet iterations per variant (default: 1500)")
    args = parser.parse_args()

    steps: list[tuple[float, float]] = []
    dip_step = PetsGANTrainer.dip_step

    def recording_step(self, generator):
        out = dip_step(self, generator)
        steps.append((out["ir"], out["ir_grad"]))
        return out

    PetsGANTrainer.dip_step = recording_step  # record every step, not only the logged ones
    image = load_image(args.image)
    for variant in args.variants:
        fields = parse_overrides(variant.split(","), PRESETS["fast"])  # as `sinkit train --set` reads them
        config = replace(PRESETS["fast"], dep_iters=0, joint_iters=0, dip_iters=args.iters, **fields)
        steps.clear()
        start = time.perf_counter()
        model = PetsGAN.fit(image, config, progress=False, vgg="random")
        loss, grad = np.array([s[0] for s in steps]), np.array([s[1] for s in steps])
        print(f"{variant:40s} {time.perf_counter() - start:6.1f} s  IR loss, last 100 steps {loss[-100:].mean():.4f}  "
              f"saturated {ir_saturated(model)}  IR grad norm median / q99 {np.median(grad):.3f} / "
              f"{np.quantile(grad, 0.99):.3f}  rollbacks {model.info.get('ir_rollbacks', [])}", flush=True)


if __name__ == "__main__":
    main()
