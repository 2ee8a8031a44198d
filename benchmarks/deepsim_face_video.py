"""DeepSIM's video protocol (paper sec. 4.2) on ``../shared/data/examples/deepsim/face_video``.

Train on frame 0 (``train_B`` + ``train_seg``, primitive ``seg_edges``), translate the
primitives of frames 1-30 (``test_seg`` + Canny edges of ``test_B`` with sigma 0.5, as the
official face-video test script) and compare with ``test_B``: PSNR, SSIM, patch SWD and
nearest-neighbour patch distance (``sinkit.metrics``), LPIPS and SIFID when their weights
exist.  The ablation is the paper's baseline: the same run without TPS (flip + random crop).

Everything is done at the working size of the preset (256 px for ``fast``): images are
resized first, then the edges are drawn, so training and test edges are made alike.

    # the two trainings (each ~12 min on one core; they can run side by side)
    python benchmarks/deepsim_face_video.py train --variant tps    --out results/deepsim-face_video
    python benchmarks/deepsim_face_video.py train --variant no_tps --out results/deepsim-face_video
    # metrics of each variant (~10 min of CPU each; cached), then the table and the strip
    python benchmarks/deepsim_face_video.py evaluate --variant tps --out results/deepsim-face_video
    python benchmarks/deepsim_face_video.py report --out results/deepsim-face_video --docs docs/results/deepsim-face_video

    # a variant with other settings, in its own folder (evaluate prints its means)
    python benchmarks/deepsim_face_video.py train --variant tps --set tps_percent=0.5 --name tps_p05
    python benchmarks/deepsim_face_video.py evaluate --name tps_p05
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

import sinkit
from sinkit.core.config import parse_overrides, replace_config
from sinkit.deepsim import PRESETS, train
from sinkit.deepsim.model import working_size
from sinkit.deepsim.primitives import resize_primitive, seg_edges_primitive
from sinkit.metrics import PAIRED_METRICS, deep_metric_status, evaluate_pair
from sinkit.metrics.evaluate import _DeepModels

#: the weight-free metrics always run; LPIPS (the paper's) and SIFID where their weights are found
#: (``sinkit.core.weights``: a path in SINKIT_WEIGHTS_DIR or the torch hub cache)
DEEP_METRICS = ["lpips", "sifid64"]
FREE_METRICS = [m for m in PAIRED_METRICS if m not in DEEP_METRICS]


def _find_data() -> Path:
    """``../shared/data/...`` next to the repository (or next to any parent folder, for worktrees)."""
    for parent in Path(__file__).resolve().parents[1:]:
        candidate = parent / "shared" / "data" / "examples" / "deepsim" / "face_video"
        if candidate.is_dir():
            return candidate
    return Path("../shared/data/examples/deepsim/face_video")


DATA = _find_data()
SIGMA = 0.5  # official face-video scripts: --test_canny_sigma 0.5 (training edges: 0.5 too)
VARIANTS = {
    "tps": {},  # the paper's method
    "no_tps": {"tps": False, "crop": True},  # paper's baseline: pix2pixHD with crop + flip only
}


def pair(frame: int, split: str, size: tuple[int, int] | None, data: Path):
    image = sinkit.load_image(data / f"{split}_B" / f"{frame}.png")
    seg = sinkit.load_image(data / f"{split}_seg" / f"{frame}.png")
    if size is None:
        return image, seg
    image = sinkit.resize(image, size)
    seg = resize_primitive(seg, "seg", size)
    return image, seg_edges_primitive(seg, image, sigma=SIGMA)


def config_for(variant: str, preset: str, iters: int | None = None, bf16: bool = False, overrides=()):
    """The preset with the variant's augmentation; ``iters``: half constant, half linear decay;
    ``overrides``: ``KEY=VALUE`` strings as ``sinkit train --set`` takes them."""
    config = replace(PRESETS[preset], primitive_kind="seg_edges", **VARIANTS[variant])
    if iters is not None:
        config = replace(config, niter=iters // 2, niter_decay=iters - iters // 2)
    config = replace(config, bf16=config.bf16 or bf16)
    return replace_config(config, **parse_overrides(overrides, config))


def cmd_train(args):
    config = config_for(args.variant, args.preset, args.iters, args.bf16, args.set)
    image, _ = pair(0, "train", None, args.data)
    size = working_size(*image.shape[-2:], config)
    image, primitive = pair(0, "train", size, args.data)
    out = Path(args.out) / (args.name or args.variant)
    start = time.perf_counter()
    model = train(image, primitive, config, out_dir=out, resume=True, progress=not args.quiet)  # resume: continue if interrupted
    done = model.info["iteration"]
    print(f"{args.name or args.variant}: {done} iterations in {time.perf_counter() - start:.0f} s -> {out}  "
          f"({model.train_seconds / max(1, done):.3f} s/iter)")


def evaluate(model_dir: Path, frames: list[int], data: Path) -> dict:
    """Per-frame metrics of one trained variant (cached in ``model_dir/eval.json``)."""
    status = deep_metric_status(download=False)
    metrics = FREE_METRICS + [m for m in DEEP_METRICS if status.get(m) is None]
    cache = model_dir / "eval.json"
    if cache.exists():
        saved = json.loads(cache.read_text())
        if [r["frame"] for r in saved["frames"]] == frames and all(m in saved["frames"][0] for m in metrics):
            return saved
    model = sinkit.load(model_dir, device="cpu")
    deep = _DeepModels()
    rows = []
    for f in frames:
        truth, primitive = pair(f, "test", model.size, data)
        pred = model.translate(primitive)
        rows.append({"frame": f, **evaluate_pair(pred, truth, metrics=metrics, deep_models=deep)})
    done = model.info.get("iteration", 0)
    result = {"info": {"iterations": done, "train_seconds": round(model.train_seconds, 1),
                       "seconds_per_iter": round(model.train_seconds / max(1, done), 3),
                       "losses": model.info.get("loss_terms"), "vgg_loss": model.info.get("vgg_loss"),
                       "ngf": model.config.ngf, "bf16": model.config.bf16},
              "frames": rows}
    cache.write_text(json.dumps(result, indent=1))
    return result


def cmd_evaluate(args):
    name = args.name or args.variant
    rows = evaluate(Path(args.out) / name, list(range(1, args.frames + 1)), args.data)["frames"]
    names = [m for m in rows[0] if m != "frame"]
    print(f"{name}, mean over frames 1-{args.frames}: "
          + ", ".join(f"{m} {sum(r[m] for r in rows) / len(rows):.4f}" for m in names))


def cmd_report(args):
    out, docs = Path(args.out), Path(args.docs)
    docs.mkdir(parents=True, exist_ok=True)
    status = deep_metric_status(download=False)
    frames = list(range(1, args.frames + 1))
    results = {v: evaluate(out / v, frames, args.data) for v in VARIANTS}
    strips = []
    for variant in VARIANTS:
        model = sinkit.load(out / variant, device="cpu")
        for f in args.strip_frames:
            truth, primitive = pair(f, "test", model.size, args.data)
            strips.append((variant, f, primitive, model.translate(primitive), truth))
    metrics = [m for m in FREE_METRICS + DEEP_METRICS if all(m in results[v]["frames"][0] for v in VARIANTS)]
    mean = {v: {m: sum(r[m] for r in results[v]["frames"]) / len(frames) for m in metrics} for v in VARIANTS}
    (docs / "results.json").write_text(json.dumps({"mean": mean, "variants": results,
                                                   "not_run": {k: v.splitlines()[0] for k, v in status.items() if v}}, indent=1))
    heads = {"psnr": ("PSNR (dB) higher", "PSNR", "{:.2f}"), "ssim": ("SSIM higher", "SSIM", "{:.4f}"),
             "patch_swd": ("patch SWD lower", "SWD", "{:.4f}"), "nn_patch": ("NN-patch lower", "NN", "{:.4f}"),
             "lpips": ("LPIPS lower", "LPIPS", "{:.4f}"), "sifid64": ("SIFID lower", "SIFID", "{:.4g}")}
    missing = [m for m in DEEP_METRICS if m not in metrics]
    lines = [
        "# DeepSIM, face_video protocol (paper sec. 4.2), 256 px",
        "",
        "Trained on frame 0 (`train_B`, `train_seg`, primitive `seg_edges`, Canny sigma 0.5), "
        f"tested on frames 1-{len(frames)} (`test_seg` + Canny edges of `test_B`, sigma 0.5) against `test_B`. "
        "`tps`: the paper's method; `no_tps`: the paper's baseline (flip + random crop, no TPS). "
        "Command: `benchmarks/deepsim_face_video.py` (see its docstring).",
        "",
        (f"Not run: {', '.join(heads[m][1] for m in missing)} (no AlexNet / Inception weights found). " if missing else "")
        + "`losses`: what training ran (the VGG19 perceptual loss needs its weights too).",
        "",
        "| variant | " + " | ".join(heads[m][0] for m in metrics) + " | iterations | precision | train s | losses |",
        "|---|" + "---|" * (len(metrics) + 4),
    ]
    for v in VARIANTS:
        i = results[v]["info"]
        lines.append(f"| {v} | " + " | ".join(heads[m][2].format(mean[v][m]) for m in metrics)
                     + f" | {i['iterations']} | {'bf16' if i.get('bf16') else 'fp32'} | {i['train_seconds']} | {', '.join(i['losses'] or [])} |")
    lines += ["", "Per frame:", "",
              "| frame | " + " | ".join(f"{v} {heads[m][1]}" for v in VARIANTS for m in metrics) + " |",
              "|---|" + "---|" * (len(metrics) * len(VARIANTS))]
    for k, f in enumerate(frames):
        cells = [heads[m][2].format(results[v]["frames"][k][m]) for v in VARIANTS for m in metrics]
        lines.append(f"| {f} | " + " | ".join(cells) + " |")
    (docs / "README.md").write_text("\n".join(lines) + "\n")
    tiles, labels = [], []
    for f in args.strip_frames:
        row = {v: (p, pr, t) for v, ff, p, pr, t in strips if ff == f}
        p, pred_tps, truth = row["tps"]
        tiles += [p, pred_tps, row["no_tps"][1], truth]
        labels += [f"frame {f} primitive", "DeepSIM (TPS)", "no TPS", "truth"]
    sinkit.save_grid(tiles, docs / "strip.jpg", ncol=4, labels=labels)
    print("\n".join(lines[:12]))
    print(f"wrote {docs / 'README.md'}, {docs / 'results.json'}, {docs / 'strip.jpg'}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--variant", choices=list(VARIANTS), required=True)
    t.add_argument("--preset", default="fast", choices=list(PRESETS))
    t.add_argument("--out", default="results/deepsim-face_video")
    t.add_argument("--data", type=Path, default=DATA)
    t.add_argument("--iters", type=int, default=None,
                   help="total iterations, half constant + half linear decay (default: the preset's; fast 1600, paper 16000)")
    t.add_argument("--bf16", action="store_true", help="bfloat16 autocast (default: the preset's, fp32)")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a config field on top of the preset and variant (repeatable), e.g. tps_percent=0.5")
    t.add_argument("--name", default=None, help="folder under --out (default: the variant's name)")
    t.add_argument("--quiet", action="store_true")
    e = sub.add_parser("evaluate", help="metrics of one variant (cached; report runs it when missing)")
    e_which = e.add_mutually_exclusive_group(required=True)
    e_which.add_argument("--variant", choices=list(VARIANTS))
    e_which.add_argument("--name", help="a folder trained with train --name")
    e.add_argument("--out", default="results/deepsim-face_video")
    e.add_argument("--data", type=Path, default=DATA)
    e.add_argument("--frames", type=int, default=30)
    r = sub.add_parser("report")
    r.add_argument("--out", default="results/deepsim-face_video")
    r.add_argument("--docs", default="docs/results/deepsim-face_video")
    r.add_argument("--data", type=Path, default=DATA)
    r.add_argument("--strip-frames", type=int, nargs="+", default=[1, 10, 20, 30])
    r.add_argument("--frames", type=int, default=30, help="test frames 1..N (the protocol: 30)")
    args = ap.parse_args()
    torch.set_num_threads(int(__import__("os").environ.get("OMP_NUM_THREADS", "1")))
    {"train": cmd_train, "evaluate": cmd_evaluate, "report": cmd_report}[args.cmd](args)


if __name__ == "__main__":
    main()
