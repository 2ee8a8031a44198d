"""``sinkit inpaint``: GPNN's conditional inpainting (paper sec. 4.3), added to the CLI by this package."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..cli.common import DEVICE_OPTION, MAX_MEMORY_OPTION, echo_path, friendly_errors, guard_memory, load_model
from ..core.io import ensure_dir, load_image, load_mask, save_grid, save_image
from ..core.resize import resize

__all__ = ["COMMANDS"]


@click.command(short_help="Fill a masked hole from the rest of the image (GPNN conditional inpainting).")
@click.argument("image", type=click.Path(exists=True))
@click.option("--mask", "mask_path", required=True, type=click.Path(exists=True, dir_okay=False), help="White = the hole to fill.")
@click.option("--input", "input_path", type=click.Path(exists=True, dir_okay=False), help="The image with a rough colour hint painted in the hole.  [default: IMAGE]")
@click.option("--alpha", type=click.FloatRange(min=0, min_open=True), default=None, help="Completeness weight.  [default: the config's inpaint_alpha, 1 (official)]")
@click.option("--out", "out_dir", default="inpaint_out", show_default=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--method", default="gpnn", show_default=True, help="A method that inpaints (gpnn).")
@MAX_MEMORY_OPTION
@DEVICE_OPTION
@friendly_errors
def inpaint(image, mask_path, input_path, alpha, out_dir, method, max_memory, device):
    """Conditional inpainting: the hole is re-synthesised coarse to fine from patches outside it.

    \b
    Example:
      sinkit inpaint photo.jpg --mask hole.png --out out/
      sinkit inpaint photo.jpg --mask hole.png --input photo_with_blue_hint.png
    """
    out = ensure_dir(out_dir)  # a bad --out fails before the work
    model = load_model(image, device, method=None if Path(image).is_dir() else method)
    if not hasattr(model, "inpaint"):
        raise click.ClickException(f"{model.method} models cannot inpaint. {getattr(model, 'usage', '')}")
    mask = load_mask(mask_path).to(model.device)
    hint = load_image(input_path).to(model.device) if input_path else None
    size = tuple(model.real.shape[-2:])
    for name, given in (("mask", mask), ("--input", hint)):
        if given is not None and tuple(given.shape[-2:]) != size:
            click.echo(f"note: {name} is {given.shape[-2]}x{given.shape[-1]} px; resized to the image's {size[0]}x{size[1]} px")
    guard_memory(model, size, what=f"inpainting {size[0]}x{size[1]} px", hint="use a smaller image", max_memory=max_memory)
    start = time.perf_counter()
    result = model.inpaint(hint, mask, alpha=alpha)
    click.echo(f"inpainted {result.shape[2]}x{result.shape[3]} px in {time.perf_counter() - start:.2f} s")
    source = model.real if hint is None else resize(hint, tuple(result.shape[-2:]))
    shown_mask = resize(mask, tuple(result.shape[-2:]), clamp=False).clamp(0, 1).expand(-1, 3, -1, -1) * 2 - 1
    echo_path("result", save_image(result, out / "result.png"))
    echo_path("comparison", save_grid([source, shown_mask, result], out / "comparison.png", ncol=3, labels=["input", "mask", "result"]))


COMMANDS: list = [inpaint]
