"""Paint-to-image with --quantize: does the official retraining of the injection scale matter?

The official ``paint2image.py --quantization_flag`` retrains G_n (``train_paint``) with the
coarser scales' random outputs colour-quantised to the k = 5 centres before they reach G_n.
sinkit's ``paint_to_image(quantize=True)`` skips that retraining.  This script does the
retraining for a SinGAN model (by quantising the x_up that ``train_scale`` draws) and writes
both results side by side, with the same seed.

    .venv/bin/python benchmarks/paint_quantize_retrain.py RUN_DIR PAINT.png SCALE OUT_DIR

Differences from ``train_paint`` that remain: the retrained scale starts from the previous
scale's weights when the widths match (as every SinGAN scale does here), and uses the model's
own config (iterations etc.).
"""

from __future__ import annotations

import copy
import sys
import time
from pathlib import Path

import torch

import sinkit
from sinkit.core.resize import resize
from sinkit.singan.trainer import train_scale
from sinkit.tasks import paint_to_image
from sinkit.tasks.paint import color_centers, quantize_colors


def retrain_quantized(model, index: int, k: int = 5):
    """Copy of ``model`` whose scale ``index`` is retrained on quantised coarser outputs."""
    new = copy.deepcopy(model)
    centers = color_centers(model.pyramid[index], k)
    all_scales = list(new.scales)
    new.scales = all_scales[:index]
    plain_run = new.run_scales

    def quantized_run(x_up, start, *, stop=None, **kw):
        out = plain_run(x_up, start, stop=stop, **kw)
        if stop == index and not kw.get("return_all") and kw.get("noise", "random") == "random":
            out = quantize_colors(resize(out, model.sizes[index]), centers)
        return out

    new.run_scales = quantized_run
    scale, losses = train_scale(new, index, progress=True)
    del new.run_scales  # back to the class method
    new.scales = all_scales[:index] + [scale] + all_scales[index + 1 :]
    return new, losses


def main(run_dir: str, paint_path: str, scale: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    model = sinkit.load(run_dir, device="cpu")
    paint = sinkit.load_image(paint_path)
    start = time.perf_counter()
    retrained, losses = retrain_quantized(model, scale)
    print(f"retrained scale {scale} in {time.perf_counter() - start:.1f} s; losses {losses}")
    with torch.no_grad():
        rows = []
        for seed in range(3):
            plain = paint_to_image(model, paint, scale, generator=seed)
            quant = paint_to_image(model, paint, scale, quantize=True, generator=seed)
            quant_rt = paint_to_image(retrained, paint, scale, quantize=True, generator=seed)
            rows += [plain, quant, quant_rt]
            print(f"seed {seed}: mean |quantized - quantized+retrained| = {(quant - quant_rt).abs().mean():.4f}, "
                  f"mean |plain - quantized| = {(plain - quant).abs().mean():.4f}")
    labels = ["plain", "quantized", "quant+retrain"] * 3  # sinkit, sinkit --quantize, official
    out = Path(out_dir)
    sinkit.save_grid(rows, out / f"paint_quantize_retrain_N-{scale}.png", ncol=3, labels=labels)
    print("wrote", (out / f"paint_quantize_retrain_N-{scale}.png").resolve())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
