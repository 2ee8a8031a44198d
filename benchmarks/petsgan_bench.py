"""Run the project's benchmark harness (``sinkit.bench.run_bench``) on PetsGAN.

Interim entry point until PetsGAN is registered with the reshaped core (issue 8):
it registers a thin adapter under the method name ``petsgan`` and calls the same
``run_bench`` that ``sinkit bench`` calls, so the folder layout, metrics, seeds,
contact sheets and resume behaviour are the harness's.

    python benchmarks/petsgan_bench.py ../shared/data/places50 runs/bench-petsgan-fast \\
        --limit 10 --samples 10 [--set dip_iters=400 ...]

PetsGAN has one "scale": start scale ``N`` is its only one.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from sinkit.bench import BenchSettings, run_bench
from sinkit.core.registry import register_method
from sinkit.petsgan import PRESETS, PetsGAN, PetsGANConfig
from sinkit.petsgan.training import train


@register_method("petsgan")
class PetsGANBenchModel:
    """What the current harness asks of a model, around a :class:`PetsGAN`."""

    config_class = PetsGANConfig
    presets = PRESETS
    num_scales = 1

    def __init__(self, model: PetsGAN):
        self.model = model
        self.real = model.hr
        seconds = model.info.get("train_seconds", {})
        self.info = {"train_seconds": [float(sum(seconds.values()))] if seconds else None,
                     "prior": model.info.get("prior"), "pt_init": model.info.get("pt_init")}

    @classmethod
    def train(cls, image, config, *, out_dir=None, resume=False, device="cpu", progress=True):
        if resume and out_dir is not None and (Path(out_dir) / "model.safetensors").exists():
            model = PetsGAN.load(out_dir, device)
            if model.config != config:
                raise ValueError(f"{out_dir} holds a model trained with another config")
            return cls(model)
        return cls(train(image, config, out_dir=out_dir, resume=resume, device=device, progress=progress))

    def reconstruct(self):
        return [self.model.reconstruct()]

    def sample(self, num, start_scale=0, generator=None):
        return self.model.sample(num, generator=generator)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset")
    ap.add_argument("out")
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=JSON", help="config override")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    settings = BenchSettings(method="petsgan", preset=args.preset, overrides=overrides, samples=args.samples,
                             start_scales=["N"], seed=args.seed)
    torch.set_num_threads(int(__import__("os").environ.get("OMP_NUM_THREADS", "1")))
    run_bench(args.dataset, args.out, settings, limit=args.limit, device="cpu", progress=not args.quiet)


if __name__ == "__main__":
    main()
