"""One table (and one contact sheet) for several ``sinkit bench`` runs on the same images.

Reads what ``sinkit bench`` writes in each run folder (``summary.md`` for the
metrics, mean ± std over images at start scale N; ``results.csv`` for the
cost) and prints one markdown table.  With ``--sheets``, it also stacks the
per-image contact sheets the bench wrote in each run, one JPEG per image.

Usage::

    python benchmarks/places50_table.py docs/results/places50-singan-fast results/places50-gpnn \
        results/places50-patch_diffusion results/places50-gpdm --sheets docs/results/places50-patch-methods --images 0,2
    python benchmarks/places50_table.py results/p50/singan-fast results/p50/petsgan-fast \
        --overview docs/results/overview.jpg --images 0,1,2,3,4,5,6,7,8,9

With ``--overview``, one JPEG with a row per image: the image, then the first samples (sampling
seed 0, start scale N) of every run's saved model (``models/<i>``), each at the size it was trained
for.  This samples again (a few seconds per model), so the runs must have kept their models.
"""

from __future__ import annotations

import argparse
import csv
import re
import statistics
from pathlib import Path

import torch

METRICS = ("patch_swd", "nn_patch", "diversity", "sifid64", "lpips_div")


def read_summary(folder: Path) -> dict:
    """The metrics and cost of one bench run folder, as strings ready for the table."""
    text = (folder / "summary.md").read_text()
    title = text.splitlines()[0].removeprefix("# Benchmark: ").strip()
    out = {"run": title, "folder": str(folder)}
    m = re.search(r"^(\d+) images; (\d+) samples per image", text, re.M)
    if m:
        out["images"], out["samples"] = int(m.group(1)), int(m.group(2))
    for metric in METRICS:
        row = re.search(rf"^\| \*\*{metric}\*\* \(this run\) \| \w+ \| ([^|]+) \|", text, re.M)
        if row:
            out[metric] = row.group(1).strip()
    m = re.search(r"^Training time per image ([^,]+),", text, re.M)
    if m:
        # a training-free method's "model" is the image itself: its bench records 0 s of training
        out["train_per_image"] = "none (training-free)" if re.fullmatch(r"0\.0 ± 0\.0 \w+", m.group(1).strip()) else m.group(1).strip()
    results = folder / "results.csv"
    if results.exists() and out.get("samples"):
        with results.open() as f:
            records = list(csv.DictReader(f))
        per_sample = [float(r["sample_s@N"]) / out["samples"] for r in records if r.get("sample_s@N")]
        long_sides = sorted({max(int(r["height"]), int(r["width"])) for r in records})
        out["size"] = f"long side {long_sides[0]}" if len(long_sides) == 1 else f"long side {long_sides[0]}-{long_sides[-1]}"
        if per_sample:
            sd = statistics.stdev(per_sample) if len(per_sample) > 1 else 0.0
            out["sample_s"] = f"{statistics.mean(per_sample):.2f} ± {sd:.2f}"
    return out


def contact_sheets(rows: list[dict], images: list[int], out_dir: Path) -> list[Path]:
    """One JPEG per image: the per-image sheets ``sinkit bench`` already wrote in each run
    (``sheets/<i>.png``: real, reconstruction where the method has one, samples), stacked with the
    run's name above each.  Nothing is sampled again (a GPDM paper sample costs ~3 min here).
    """
    from PIL import Image, ImageDraw

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for i in images:
        # a run with fewer images (--limit) has no sheet for this one: it is left out of this image's JPEG
        paths = [(r["run"].split(" on ")[0], Path(r["folder"]) / "sheets" / f"{i}.png") for r in rows]
        sheets = [(name, Image.open(path).convert("RGB")) for name, path in paths if path.exists()]
        out = Image.new("RGB", (max(im.width for _, im in sheets), sum(im.height + 20 for _, im in sheets)), "white")
        draw, y = ImageDraw.Draw(out), 0
        for name, im in sheets:
            draw.text((4, y + 4), name, fill="black")
            out.paste(im, (0, y + 20))
            y += im.height + 20
        written.append(out_dir / f"sheet_image{i}.jpg")
        out.save(written[-1], quality=85)
    return written


def overview(rows: list[dict], images: list[int], path: Path, num: int, seed: int = 0) -> Path:
    """One row per image: the training image, then ``num`` samples of each run's model (seed ``seed``)."""
    import sinkit
    from sinkit.bench.harness import draw_samples
    from sinkit.core.io import save_grid

    tiles, labels = [], []
    for i in images:
        models = [sinkit.load(Path(r["folder"]) / "models" / str(i), device="cpu") for r in rows]
        tiles.append(models[-1].training_image().cpu())
        labels.append(f"image {i}")
        for r, model in zip(rows, models):
            with torch.no_grad():
                samples = draw_samples(model, num, seed, "N").cpu()
            tiles += [s[None] for s in samples]
            labels += [f"{r['run']} #{k}" for k in range(num)]
    return save_grid(tiles, path, ncol=1 + num * len(rows), labels=labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="bench run folders (each holds summary.md)")
    parser.add_argument("--sheets", type=Path, help="also write sheet_image<i>.jpg here: each run's bench sheet of image i, stacked")
    parser.add_argument("--images", default="0,2", help="image indices for --sheets (default: 0,2)")
    parser.add_argument("--names", help="comma-separated run names for the table and sheets, one per folder "
                        "(default: the bench's title, which does not show --set overrides)")
    parser.add_argument("--overview", type=Path, help="also write one picture (PNG; .jpg: JPEG) here: per image of --images, "
                        "the image and the first --overview-samples samples of each run's model")
    parser.add_argument("--overview-samples", type=int, default=4, help="samples per run and image in --overview (default: 4)")
    args = parser.parse_args()
    rows = [read_summary(f) for f in args.folders]
    if args.names:
        names = args.names.split(",")
        if len(names) != len(rows):
            parser.error(f"--names has {len(names)} names for {len(rows)} folders")
        for r, name in zip(rows, names):
            r["run"] = name
    print("| run | images x samples | patch_swd (lower) | nn_patch (lower) | diversity (higher) | training per image | s per sample (start N) | model size, px |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['run']} | {r.get('images', '?')} x {r.get('samples', '?')} | {r.get('patch_swd', 'n/a')} | "
            f"{r.get('nn_patch', 'n/a')} | {r.get('diversity', 'n/a')} | {r.get('train_per_image', 'n/a')} | {r.get('sample_s', 'n/a')} | {r.get('size', '?')} |"
        )
    if args.sheets:
        for path in contact_sheets(rows, [int(i) for i in args.images.split(",")], args.sheets):
            print(f"contact sheet: {path}")
    if args.overview:
        print(f"overview: {overview(rows, [int(i) for i in args.images.split(',')], args.overview, args.overview_samples)}")


if __name__ == "__main__":
    main()
