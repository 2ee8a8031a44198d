"""A hand edit of the car segmentation (``../shared/data/examples/deepsim/car``): move the rear wheel.

The yellow rear wheel is cut out (its pixels take the colour of the nearest non-wheel
pixel: body red above, background white below) and pasted ``--shift`` px further left,
as a user would do in a paint program.  The edit only uses training colours, so the
model accepts it.

    python benchmarks/deepsim_car_edit.py --out car_seg_edited.png
    sinkit train ../shared/data/examples/deepsim/car/train_B/car.png --method deepsim \\
        --primitive ../shared/data/examples/deepsim/car/train_seg/car.png --primitive-kind seg --preset fast --out runs/car
    sinkit translate runs/car --primitive car_seg_edited.png --out out/car
    # a strip of (primitive, translation) for the training map, the two official test maps and the edit:
    python benchmarks/deepsim_car_edit.py --out car_seg_edited.png --model runs/car --strip docs/results/deepsim-car/strip.jpg
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage


def _find_seg() -> Path:
    for parent in Path(__file__).resolve().parents[1:]:
        candidate = parent / "shared" / "data" / "examples" / "deepsim" / "car" / "train_seg" / "car.png"
        if candidate.is_file():
            return candidate
    return Path("../shared/data/examples/deepsim/car/train_seg/car.png")


def move_rear_wheel(seg: np.ndarray, shift: int) -> np.ndarray:
    """``(H, W, 3)`` uint8 seg map -> the same map with the right-most yellow region moved ``shift`` px left."""
    r, g, b = (seg[..., i].astype(int) for i in range(3))
    yellow = (r > 200) & (g > 200) & (b < 80)
    labels, n = ndimage.label(yellow)
    if n < 2:
        raise SystemExit(f"expected two wheels (yellow regions), found {n}")
    centres = ndimage.center_of_mass(yellow, labels, range(1, n + 1))
    rear = 1 + int(np.argmax([c[1] for c in centres]))
    wheel = labels == rear
    wheel_color = seg[wheel].reshape(-1, 3)
    wheel_color = np.median(wheel_color, axis=0).astype(np.uint8)
    out = seg.copy()
    # remove: the wheel and its 3 px anti-aliased fringe take the colour of the nearest pixel outside
    hole = ndimage.binary_dilation(wheel, iterations=3)
    _, (iy, ix) = ndimage.distance_transform_edt(hole, return_indices=True)
    out[hole] = seg[iy[hole], ix[hole]]
    # paste further left
    moved = np.roll(wheel, -shift, axis=1)
    out[moved] = wheel_color
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seg", type=Path, default=_find_seg())
    ap.add_argument("--shift", type=int, default=70, help="px (at the map's 640 px width)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--model", type=Path, help="a trained DeepSIM seg model: translate the maps and write --strip")
    ap.add_argument("--strip", type=Path, default=Path("strip.png"))
    args = ap.parse_args()
    seg = np.asarray(Image.open(args.seg).convert("RGB"))
    Image.fromarray(move_rear_wheel(seg, args.shift)).save(args.out)
    print(f"wrote {args.out}")
    if args.model is not None:
        import sinkit

        model = sinkit.load(args.model, device="cpu")
        test = args.seg.parents[1] / "test_seg"
        maps = [("training map", args.seg), *((f"official {p.stem}", p) for p in sorted(test.glob("*.png"))), ("rear wheel moved", args.out)]
        tiles, labels = [], []
        for label, path in maps:
            primitive = sinkit.load_image(path)
            result = model.translate(primitive)
            tiles += [_nearest(primitive, result), result]
            labels += [label, "DeepSIM"]
        tiles.append(model.real)
        labels.append("training image")
        sinkit.save_grid(tiles, args.strip, ncol=2, labels=labels)
        print(f"wrote {args.strip}")


def _nearest(primitive, like):
    """The primitive at the result's size without blending its colours."""
    import torch.nn.functional as F

    return F.interpolate(primitive, size=tuple(like.shape[-2:]), mode="nearest-exact")


if __name__ == "__main__":
    main()
