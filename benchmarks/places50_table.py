"""One table for several ``sinkit bench`` runs: the training-free methods next to SinGAN fast.

Reads the ``summary.md`` that ``sinkit bench`` writes in each run folder (same
harness, same metrics) and prints one markdown table, start scale N, mean ± std
over images, plus the cost columns.

Usage::

    python benchmarks/places50_table.py docs/results/places50-singan-fast results/places50-gpnn \
        results/places50-patch_diffusion results/places50-gpdm
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

METRICS = ("patch_swd", "nn_patch", "diversity", "sifid64", "lpips_div")


def read_summary(folder: Path) -> dict:
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
    m = re.search(r"^\| training time, s \| ([^|]+) \|", text, re.M)
    if m:
        out["train_s"] = m.group(1).strip()
    m = re.search(r"^Training time per image ([^,]+),", text, re.M)
    if m:
        out["train_per_image"] = m.group(1).strip()
    return out


def main(folders: list[str]) -> None:
    rows = [read_summary(Path(f)) for f in folders]
    print("| run | images x samples | patch_swd (lower) | nn_patch (lower) | diversity (higher) | training per image |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['run']} | {r.get('images', '?')} x {r.get('samples', '?')} | {r.get('patch_swd', 'n/a')} | "
            f"{r.get('nn_patch', 'n/a')} | {r.get('diversity', 'n/a')} | {r.get('train_per_image', 'n/a')} |"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
