"""How closely does injecting the real image (zero noise) follow the reconstruction path?

For every valid injection scale n of each model: mean |inject(real, n, zero) - reconstruction|
(in [-1, 1] units), next to the model's own reconstruction error mean |reconstruction - real| and
the gap of random samples (start scale N) to the reconstruction, for scale.

    .venv/bin/python benchmarks/tasks_injection_check.py runs/stone runs/scream
"""

from __future__ import annotations

import sys

import torch

import sinkit
from sinkit.tasks import inject


def main(paths: list[str]) -> None:
    for path in paths:
        model = sinkit.load(path, device="cpu")
        rec = model.reconstruct()[-1]
        rec_err = (rec - model.real).abs().mean().item()
        samples = model.sample(8, generator=0)
        sample_gap = (samples - rec).abs().mean().item()
        print(f"{path}: {model.num_scales} scales, reconstruction error {rec_err:.4f}, random samples vs reconstruction {sample_gap:.4f}")
        for n in model.valid_injection_scales():
            out = inject(model, model.real, n, noise="zero")
            gap = (out - rec).abs().mean().item()
            print(f"  inject real at {n} (N-{n}), zero noise: mean |out - reconstruction| = {gap:.4f}")


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main(sys.argv[1:])
