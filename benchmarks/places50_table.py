"""One table (and one contact sheet) for several ``sinkit bench`` runs on the same images.

Reads what ``sinkit bench`` writes in each run folder (``summary.md`` for the
metrics, mean ± std over images at start scale N; ``results.csv`` for the
cost) and prints one markdown table.  With ``--sheet``, it also loads each
run's saved model of a few images (``models/<i>``) and draws one sample per
method (seed 0, start scale N) next to the real image, one row per image.

Usage::

    python benchmarks/places50_table.py docs/results/places50-singan-fast results/places50-gpnn \
        results/places50-patch_diffusion results/places50-gpdm --sheet docs/results/sheet.png --images 0,3,5,8
"""

from __future__ import annotations

import argparse
import csv
import re
import statistics
from pathlib import Path

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


def contact_sheet(folders: list[Path], images: list[int], data: Path, path: Path) -> Path:
    """Real image + one sample (seed 0, start scale N) of each run's saved model, one row per image.

    A model smaller than the real image (SinGAN ``fast`` works at 128 px) is enlarged to the
    real image's height for the sheet, and its label says so.
    """
    import sinkit
    from sinkit.core.capabilities import Sampler
    from sinkit.core.resize import resize

    tiles, labels = [], []
    for i in images:
        real_file = next(data.glob(f"{i}.*"))
        real = sinkit.load_image(real_file, max_size=250)
        tiles.append(real)
        labels.append(f"real {real_file.name}")
        for folder in folders:
            model = sinkit.load(folder / "models" / str(i))
            if not isinstance(model, Sampler):
                raise SystemExit(f"{folder}: the model of image {i} cannot draw samples")
            sample = model.sample(1, generator=0)
            label = read_summary(folder)["run"].split(" on ")[0]
            if sample.shape[2] < real.shape[2]:
                label += f" ({max(sample.shape[2:])} px, enlarged)"
                sample = resize(sample, (real.shape[2], round(sample.shape[3] * real.shape[2] / sample.shape[2])))
            tiles.append(sample.clamp(-1, 1))
            labels.append(label)
    return sinkit.save_grid(tiles, path, ncol=len(folders) + 1, labels=labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="bench run folders (each holds summary.md)")
    parser.add_argument("--sheet", type=Path, help="also write a contact sheet (PNG) here")
    parser.add_argument("--images", default="0,3,5,8", help="image indices for the sheet (default: 0,3,5,8)")
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/places50",
                        help="folder of the benchmark images (default: ../shared/data/places50 beside the repo)")
    args = parser.parse_args()
    rows = [read_summary(f) for f in args.folders]
    print("| run | images x samples | patch_swd (lower) | nn_patch (lower) | diversity (higher) | training per image | s per sample (start N) | model size, px |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['run']} | {r.get('images', '?')} x {r.get('samples', '?')} | {r.get('patch_swd', 'n/a')} | "
            f"{r.get('nn_patch', 'n/a')} | {r.get('diversity', 'n/a')} | {r.get('train_per_image', 'n/a')} | {r.get('sample_s', 'n/a')} | {r.get('size', '?')} |"
        )
    if args.sheet:
        images = [int(i) for i in args.images.split(",")]
        print(f"\ncontact sheet: {contact_sheet(args.folders, images, args.data, args.sheet)}")


if __name__ == "__main__":
    main()
