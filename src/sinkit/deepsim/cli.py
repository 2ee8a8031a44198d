"""DeepSIM's own CLI command: ``sinkit primitive`` (make the primitive a user then edits)."""

from __future__ import annotations

from pathlib import Path

import click

from ..cli.common import echo_path, friendly_errors

__all__ = ["COMMANDS", "primitive"]


@click.command()
@click.argument("image", type=click.Path(dir_okay=False))
@click.option("--kind", type=click.Choice(["edges", "seg", "seg_edges"]), default="edges", show_default=True,
              help="edges: Canny edges; seg: a segmentation (--seg, or unsupervised superpixels); seg_edges: edges drawn over it.")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="Output PNG.")
@click.option("--seg", "seg_path", type=click.Path(dir_okay=False), help="Segmentation map for seg / seg_edges (default: unsupervised).")
@click.option("--seg-method", type=click.Choice(["slic", "felzenszwalb"]), default="slic", show_default=True, help="Unsupervised segmentation when no --seg is given.")
@click.option("--segments", type=click.IntRange(min=1), default=24, show_default=True, help="Approximate number of SLIC regions.")
@click.option("--sigma", type=float, help="Canny sigma, px.  [edges: 2 (official test default); seg_edges: 0.5]")
@click.option("--canny-color", type=click.Choice(["black", "white"]), default="black", show_default=True, help="Edge colour (official default: black edges on white).")
@click.option("--skeletonize", is_flag=True,
              help="IMAGE is a hand-drawn edge drawing: thin its strokes to 1 px lines (as the official README suggests) instead.")
@friendly_errors
def primitive(image, kind, out_path, seg_path, seg_method, segments, sigma, canny_color, skeletonize):
    """Make the primitive of IMAGE for DeepSIM (edit it, then 'sinkit translate').

    \b
    Examples:
      sinkit primitive face.png --kind edges --out face_edges.png
      sinkit primitive car.png --kind seg_edges --seg car_seg.png --out car_seg_edges.png
      sinkit primitive photo.png --kind seg --out photo_seg.png        # unsupervised (SLIC)
      sinkit primitive my_drawing.png --skeletonize --out thin.png    # 1 px lines from hand-drawn strokes
    """
    from ..core.io import ensure_dir, load_image, save_image
    from .primitives import make_primitive, skeletonize_edges

    color = 1 if canny_color == "white" else 0
    img = load_image(image)
    ensure_dir(Path(out_path).resolve().parent)  # a bad --out fails before the work
    if skeletonize:
        out = skeletonize_edges(img, color)
        echo_path("skeleton", save_image(out, out_path))
        return
    seg = load_image(seg_path) if seg_path else None
    out = make_primitive(img, kind, seg=seg, sigma=sigma, canny_color=color, seg_method=seg_method, segments=segments)
    click.echo(f"{kind} primitive of {image} ({img.shape[2]}x{img.shape[3]} px)")
    if float(out.amax() - out.amin()) == 0:
        click.echo("note: the primitive is blank (one colour): DeepSIM cannot learn from it"
                   + ("; try a smaller --sigma" if kind != "seg" else ""))
    echo_path("primitive", save_image(out, Path(out_path)))


COMMANDS = [primitive]
