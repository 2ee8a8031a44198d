"""CLI commands for manipulation tasks (see sinkit.cli.main: every click command in COMMANDS is added).

Each command is a thin layer over :mod:`sinkit.tasks`: it loads the model and
the inputs, runs the task, and writes into ``--out`` the result(s), the inputs
as the model saw them, and a side-by-side comparison sheet, printing every
path.  ``--scale all`` (paint, edit, harmonize, transfer) runs every valid
injection scale with the same seed and adds a labelled ``sweep.png``.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from pathlib import Path

import click

from ..core.io import ensure_dir
from ..core.scales import scale_label as _label
from .common import (
    ALLOW_INCOMPLETE_OPTION,
    COUNT,
    DEVICE_OPTION,
    MAX_MEMORY_OPTION,
    NON_NEGATIVE,
    POSITIVE,
    echo_path,
    friendly_errors,
    guard_memory,
    load_model,
    parse_scale,
    parse_scales,
)

__all__ = ["COMMANDS"]


@contextlib.contextmanager
def _report_adjustments():
    """Print the library's InputAdjustedWarnings (resized input, inverted mask...) as notes."""
    from ..tasks.masks import InputAdjustedWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InputAdjustedWarning)
        try:
            yield
        finally:
            seen = set()
            for w in caught:
                if issubclass(w.category, InputAdjustedWarning) and str(w.message) not in seen:
                    seen.add(str(w.message))
                    click.echo(f"note: {w.message}")
                elif not issubclass(w.category, InputAdjustedWarning):
                    warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def training_image(model):
    from ..tasks.inject import training_image as finest

    return finest(model)


def _load(model_dir, device, method=None, action="inject images (paint, edit, harmonize, transfer)", allow_incomplete=False):
    """The model (or, for a training-free --method, the image as a model), checked to be injectable."""
    from ..core.capabilities import Injectable, require

    model = load_model(model_dir, device, method=method, allow_incomplete=allow_incomplete)
    require(model, Injectable, action)
    return model


def _load_input(path: str, model, *, mask: bool = False):
    """An input image (or mask) for a task; a file far larger than the model's output is decoded at
    reduced size (:func:`~sinkit.core.io.load_image` ``max_size``)."""
    from ..core.io import load_image, load_mask

    limit = max(model.output_size())
    return (load_mask if mask else load_image)(path, max_size=limit).to(model.device)


def _guard(model, size, outputs: int, max_memory, name: str) -> None:
    guard_memory(
        model, tuple(size), outputs=outputs, max_memory=max_memory,
        what=f"{name} at {outputs} scale(s), {size[0]}x{size[1]} px each",
        hint="use fewer scales (--scale) or a smaller input",
    )


def _scales(text: str, model) -> list[int]:
    valid = model.valid_injection_scales()
    return parse_scales(text, valid.stop, valid, param_hint="--scale")


def _timed(label: str, start: float) -> None:
    click.echo(f"{label} in {time.perf_counter() - start:.2f} s")


SCALE_OPTION = click.option(
    "--scale",
    "scale_text",
    required=True,
    help="Injection scale: index from the coarsest (2) or paper notation (N-2); comma list or 'all' for a sweep.",
)
SEED_OPTION = click.option("--seed", default=0, show_default=True, help="Random seed of the injected noise.")
MODEL_ARGUMENT = click.argument("model_dir", type=click.Path(exists=True))
METHOD_OPTION = click.option("--method", default=None, help="When MODEL_DIR is an image: a training-free method (the image is the model).")


def _out_option(default: str):
    return click.option(
        "--out", "out_dir", default=default, show_default=True, type=click.Path(file_okay=False), help="Output folder."
    )


def _write_sweep(results: dict, out: Path, first: list, first_labels: list[str], name: str = "sweep.png") -> Path:
    from ..core.io import save_grid

    images = list(first) + [results[s] for s in results]
    labels = list(first_labels) + [f"scale {_label(s)}" for s in results]
    return save_grid(images, out / name, ncol=min(len(images), 6), labels=labels)


# ----------------------------------------------------------------------------- paint
@click.command(short_help="Paint-to-image: turn a clipart into an image with the model's textures.")
@MODEL_ARGUMENT
@click.option("--paint", "paint_path", required=True, type=click.Path(dir_okay=False), help="Clipart / paint image (flat colours).")
@SCALE_OPTION
@click.option("--quantize", is_flag=True, help="Map the paint to the training image's k main colours at the scale (k-means; no retraining).")
@click.option("--k", "k", default=5, show_default=True, type=COUNT, help="Colours for --quantize (official 5).")
@click.option("--keep-shape", is_flag=True, help="Generate at the paint's aspect ratio instead of stretching it to the training image's.")
@SEED_OPTION
@_out_option("paint_out")
@METHOD_OPTION
@MAX_MEMORY_OPTION
@ALLOW_INCOMPLETE_OPTION
@DEVICE_OPTION
@friendly_errors
def paint(model_dir, paint_path, scale_text, quantize, k, keep_shape, seed, out_dir, method, max_memory, allow_incomplete, device):
    """Paint-to-image: inject a clipart at a coarse scale (SinGAN sec. 4; paper: N-1 or N-2).

    \b
    Examples:
      sinkit paint runs/aurora --paint aurora_paint.png --scale N-1
      sinkit paint runs/aurora --paint aurora_paint.png --scale all --quantize
    """
    from ..core.io import save_grid, save_image
    from ..core.resize import resize
    from ..tasks import paint_to_image
    from ..tasks.inject import fit_to_model, shape_size
    from ..tasks.paint import color_centers, quantize_colors

    model = _load(model_dir, device, method, "paint-to-image (sinkit paint)", allow_incomplete)
    scales = _scales(scale_text, model)
    out = ensure_dir(out_dir)
    image = _load_input(paint_path, model)
    _guard(model, shape_size(model, image) if keep_shape else model.output_size(), len(scales), max_memory, "paint-to-image")
    results = {}
    with _report_adjustments():
        start = time.perf_counter()
        for s in scales:
            results[s] = paint_to_image(model, image, s, quantize=quantize, k=k, keep_shape=keep_shape, generator=seed)
        _timed(f"painted at {len(scales)} scale(s)", start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # as the model saw it: at the output's size
        shown = resize(image, tuple(next(iter(results.values())).shape[-2:])) if keep_shape else fit_to_model(image, model, name="paint")
    inputs, labels = [training_image(model), shown], ["training image", "paint"]
    echo_path("training image", save_image(training_image(model), out / "training_image.png"))
    echo_path("paint", save_image(shown, out / "paint.png"))
    if quantize:
        for s in scales:
            q = quantize_colors(shown, color_centers(model.image_at_scale(s), k))
            echo_path(f"quantized {_label(s)}", save_image(q, out / f"paint_quantized_{_label(s)}.png"))
            if len(scales) == 1:
                inputs.append(q)
                labels.append(f"quantized (k={k})")
    for s, img in results.items():
        echo_path(f"result {_label(s)}", save_image(img, out / f"result_{_label(s)}.png"))
    if len(scales) == 1:
        s = scales[0]
        echo_path("comparison", save_grid(inputs + [results[s]], out / "comparison.png", ncol=len(inputs) + 1, labels=labels + [f"result {_label(s)}"]))
    else:
        echo_path("sweep", _write_sweep(results, out, inputs, labels))


# ----------------------------------------------------------------------------- edit / harmonize
def _blend_command(name: str, short: str, doc: str):
    from ..tasks.masks import BLUR_SIGMA

    @click.command(name=name, help=doc, short_help=short)
    @MODEL_ARGUMENT
    @click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False), help="The edited / composite image.")
    @click.option("--mask", "mask_path", required=True, type=click.Path(dir_okay=False), help="White = region to regenerate (grey/RGB/RGBA accepted; thresholded at 0.5).")
    @SCALE_OPTION
    @click.option("--dilation", type=click.IntRange(min=0), default=None, help="Mask dilation: disk radius in px at the model's output size.  [default: the method's official value, e.g. SinGAN 20 for edit, 7 for harmonize]")
    @click.option("--blur", "blur_sigma", default=BLUR_SIGMA, show_default=True, type=NON_NEGATIVE, help="Mask Gaussian blur sigma, px (official 5).")
    @click.option("--invert-mask/--no-invert-mask", default=None, help="Force or forbid inverting the mask.  [default: invert only if the input differs from the training image mostly outside the mask]")
    @SEED_OPTION
    @_out_option(f"{name}_out")
    @METHOD_OPTION
    @MAX_MEMORY_OPTION
    @ALLOW_INCOMPLETE_OPTION
    @DEVICE_OPTION
    @friendly_errors
    def command(model_dir, input_path, mask_path, scale_text, dilation, blur_sigma, invert_mask, seed, out_dir, method, max_memory, allow_incomplete, device):
        from ..core.io import save_grid, save_image
        from ..tasks import edit, harmonize

        task = edit if name == "edit" else harmonize
        model = _load(model_dir, device, method, f"{name} images (sinkit {name})", allow_incomplete)
        scales = _scales(scale_text, model)
        out = ensure_dir(out_dir)
        image = _load_input(input_path, model)
        mask = _load_input(mask_path, model, mask=True)
        _guard(model, model.output_size(), 2 * len(scales), max_memory, name)
        results = {}
        with _report_adjustments():
            start = time.perf_counter()
            for s in scales:
                results[s] = task(model, image, s, mask=mask, dilation_radius=dilation, blur_sigma=blur_sigma, invert_mask=invert_mask, generator=seed)
            _timed(f"{name}: {len(scales)} scale(s)", start)
        first = next(iter(results.values()))
        from ..tasks.inject import fit_to_model

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            shown = fit_to_model(image, model)
        mask_rgb = first.mask.expand(-1, 3, -1, -1) * 2 - 1
        echo_path("training image", save_image(training_image(model), out / "training_image.png"))
        echo_path("input", save_image(shown, out / "input.png"))
        echo_path("mask (used)", save_image(mask_rgb, out / "mask_dilated.png"))
        for s, r in results.items():
            echo_path(f"raw {_label(s)}", save_image(r.raw, out / f"raw_{_label(s)}.png"))
            echo_path(f"blended {_label(s)}", save_image(r.blended, out / f"blended_{_label(s)}.png"))
        inputs, labels = [training_image(model), shown, mask_rgb], ["training", "input", "mask used"]
        if len(scales) == 1:
            r = first
            s = scales[0]
            echo_path("comparison", save_grid(inputs + [r.raw, r.blended], out / "comparison.png", ncol=5, labels=labels + [f"raw {_label(s)}", f"blended {_label(s)}"]))
        else:
            echo_path("sweep", _write_sweep({s: r.blended for s, r in results.items()}, out, inputs, labels))
            echo_path("sweep (raw)", _write_sweep({s: r.raw for s, r in results.items()}, out, inputs, labels, "sweep_raw.png"))

    return command


edit_cmd = _blend_command(
    "edit",
    "Editing: make copy-pasted regions seamless (inject, then blend through the mask).",
    """Editing: make copy-pasted regions seamless (SinGAN sec. 4, fig. 12).

    The model is trained on the ORIGINAL image; --input is the edited version,
    --mask marks the edited regions.  Writes the raw generated image and the
    blend (1 - m) * training + m * generated.

    \b
    Examples:
      sinkit edit runs/stone --input stone_edit_1.png --mask stone_edit_1_mask.png --scale N-2
      sinkit edit runs/stone --input stone_edit_1.png --mask stone_edit_1_mask.png --scale all
    """,
)

harmonize_cmd = _blend_command(
    "harmonize",
    "Harmonization: blend a pasted object into the background the model learned.",
    """Harmonization: blend a pasted object into a background (SinGAN sec. 4, fig. 13).

    The model is trained on the BACKGROUND image; --input is the naive
    composite, --mask marks the pasted object.  The paper finds scales 2-4
    (from the coarsest) best.

    \b
    Examples:
      sinkit harmonize runs/scream --input scream_naive.jpg --mask scream_naive_mask.jpg --scale N-3
      sinkit harmonize runs/scream --input scream_naive.jpg --mask scream_naive_mask.jpg --scale all
    """,
)


# ----------------------------------------------------------------------------- transfer
@click.command(short_help="Inject an image at a scale (SinIR-style style transfer).")
@click.argument("model_dir", type=click.Path(exists=True), required=False)
@click.option("--style", "style_path", type=click.Path(exists=True, dir_okay=False), help="With a training-free --method: the style image (the model), instead of MODEL_DIR.")
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False), help="Content image to inject.")
@click.option(
    "--scale",
    "scale_text",
    default=None,
    help="Injection scale: index from the coarsest (2) or paper notation (N-2); comma list or 'all' for a sweep.  "
    "[default: the method's own transfer scale, if it has one]",
)
@click.option("--keep-shape", is_flag=True, help="Generate at the input's aspect ratio instead of stretching it to the training image's.")
@SEED_OPTION
@_out_option("transfer_out")
@METHOD_OPTION
@MAX_MEMORY_OPTION
@ALLOW_INCOMPLETE_OPTION
@DEVICE_OPTION
@friendly_errors
def transfer(model_dir, style_path, input_path, scale_text, keep_shape, seed, out_dir, method, max_memory, allow_incomplete, device):
    """Plain injection of --input at --scale (SinIR style transfer; coarse = global change, fine = colours).

    \b
    Examples:
      sinkit transfer runs/style --input content.jpg --scale N-4
      sinkit transfer runs/style --input content.jpg --scale all --keep-shape
      sinkit transfer --method gpdm --style style.jpg --input content.jpg   # training-free: the style image is the model
    """
    from ..core.io import save_grid, save_image
    from ..core.resize import resize
    from ..tasks import inject
    from ..tasks.inject import fit_to_model, shape_size

    if (model_dir is None) == (style_path is None):
        raise click.UsageError("give the model as MODEL_DIR or, with a training-free --method, the style image as --style (one of the two)")
    if style_path is not None and method is None:
        raise click.UsageError("--style takes an image: give the training-free --method that models it (e.g. --method gpdm)")
    model = _load(model_dir or style_path, device, method, "inject images (sinkit transfer)", allow_incomplete)
    if scale_text is None:
        default = dict(getattr(model, "default_injection_scale", {})).get("transfer")
        if default is None:
            raise click.BadParameter(f"{model.method} models have no default transfer scale: give --scale", param_hint="--scale")
        valid = model.valid_injection_scales()
        scale_text = str(default + valid.stop if default < 0 else default)
    scales = _scales(scale_text, model)
    out = ensure_dir(out_dir)
    image = _load_input(input_path, model)
    _guard(model, shape_size(model, image) if keep_shape else model.output_size(), len(scales), max_memory, "transfer")
    with _report_adjustments():
        start = time.perf_counter()
        results = {s: inject(model, image, s, keep_shape=keep_shape, generator=seed) for s in scales}
        _timed(f"injected at {len(scales)} scale(s)", start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shown = resize(image, tuple(results[scales[0]].shape[-2:])) if keep_shape else fit_to_model(image, model)
    echo_path("training image", save_image(training_image(model), out / "training_image.png"))
    echo_path("input", save_image(shown, out / "input.png"))
    for s, img in results.items():
        echo_path(f"result {_label(s)}", save_image(img, out / f"result_{_label(s)}.png"))
    inputs, labels = [training_image(model), shown], ["training image", "input"]
    if len(scales) == 1:
        s = scales[0]
        echo_path("comparison", save_grid(inputs + [results[s]], out / "comparison.png", ncol=3, labels=labels + [f"result {_label(s)}"]))
    else:
        echo_path("sweep", _write_sweep(results, out, inputs, labels))


# ----------------------------------------------------------------------------- upscale
@click.command(short_help="Super-resolution with a model trained on the low-resolution image.")
@MODEL_ARGUMENT
@click.option("--input", "input_path", type=click.Path(dir_okay=False), help="Low-resolution image.  [default: the training image]")
@click.option("--factor", default=4.0, show_default=True, type=POSITIVE, help="Total upscaling factor (k passes of the model's ratio r).")
@click.option("--noise", type=click.Choice(["random", "zero"]), default="random", show_default=True, help="Noise injected with each pass (official: random).")
@SEED_OPTION
@_out_option("upscale_out")
@MAX_MEMORY_OPTION
@ALLOW_INCOMPLETE_OPTION
@DEVICE_OPTION
@friendly_errors
def upscale(model_dir, input_path, factor, noise, seed, out_dir, max_memory, allow_incomplete, device):
    """Super-resolution: k times, upsample by r and apply the finest generator (SinGAN sec. 4, fig. 10).

    Train the model on the low-resolution image with 'sinkit train LR.png --task sr --factor 4'.

    \b
    Examples:
      sinkit upscale runs/lr --factor 4 --out sr/
      sinkit upscale runs/lr --input other_lr.png --factor 4
    """
    from ..core.io import load_image, save_grid, save_image
    from ..core.resize import resize
    from ..tasks import sr_steps
    from ..tasks import upscale as upscale_fn

    from ..core.capabilities import require
    from ..core.pyramid_model import PyramidModel

    model = load_model(model_dir, device, allow_incomplete=allow_incomplete)
    require(model, PyramidModel, "upscale images (sinkit upscale runs the finest generator of a pyramid)")
    image = training_image(model) if input_path is None else load_image(input_path).to(model.device)
    k, r = sr_steps(model, factor)
    out = ensure_dir(out_dir)
    final = (round(image.shape[2] * factor), round(image.shape[3] * factor))
    guard_memory(
        model, final, outputs=k + 2, max_memory=max_memory,
        what=f"upscaling {image.shape[2]}x{image.shape[3]} px x{factor:g} to {final[0]}x{final[1]} px",
        hint="use a smaller --factor or --input",
    )
    if getattr(model.config, "sr_factor", None) == 0:
        click.echo("note: this model was not trained with --task sr (alpha 100, SR pyramid); results will be weaker")
    click.echo(f"{k} passes of x{r:.4f} (model ratio) to reach x{factor:g}")
    start = time.perf_counter()
    passes = upscale_fn(model, image, factor, noise=noise, generator=seed, return_all=True)
    _timed(f"upscaled {image.shape[2]}x{image.shape[3]} -> {passes[-1].shape[2]}x{passes[-1].shape[3]}", start)
    result = passes[-1]
    bicubic = resize(image, tuple(result.shape[-2:]))
    echo_path("input", save_image(image, out / "input.png"))
    echo_path("result", save_image(result, out / "result.png"))
    echo_path("bicubic", save_image(bicubic, out / "bicubic.png"))
    echo_path("passes", save_grid(passes, out / "passes.png", ncol=len(passes), labels=[f"pass {i + 1}" for i in range(len(passes))]))
    echo_path("comparison", save_grid([bicubic, result], out / "comparison.png", ncol=2, labels=[f"bicubic x{factor:g}", f"sinkit x{factor:g}"]))


# ----------------------------------------------------------------------------- animate
@click.command(short_help="Animation: a GIF/MP4 clip from a random walk in noise space.")
@MODEL_ARGUMENT
@click.option("--start-scale", default="0", show_default=True, help="First scale whose noise moves: 0 (= N, largest motion), 1 (= N-1), ...")
@click.option("--beta", default=0.9, show_default=True, help="Momentum of the z random walk (official 0.80-0.95; higher = smoother).")
@click.option("--alpha", default=0.1, show_default=True, help="Pull of every frame towards the reconstruction noise (official 0.1).")
@click.option("--frames", default=100, show_default=True, type=COUNT, help="Number of frames.")
@click.option("--fps", default=10.0, show_default=True, type=POSITIVE, help="Frames per second.")
@click.option("--out", "out_path", default="clip.gif", show_default=True, type=click.Path(dir_okay=False), help="Clip file: .gif (Pillow) or .mp4 (needs imageio-ffmpeg).")
@SEED_OPTION
@MAX_MEMORY_OPTION
@ALLOW_INCOMPLETE_OPTION
@DEVICE_OPTION
@friendly_errors
def animate(model_dir, start_scale, beta, alpha, frames, fps, out_path, seed, max_memory, allow_incomplete, device):
    """Animation: a random walk in z-space from the reconstruction (SinGAN sec. 4).

    Best with a model trained with --noise-padding (as the official animation models).

    \b
    Examples:
      sinkit animate runs/lightning --start-scale N --beta 0.9 --frames 100 --fps 10 --out clip.gif
      sinkit animate runs/lightning --start-scale N-1 --beta 0.85 --out clip.mp4
    """
    from ..core.io import save_grid
    from ..tasks import VideoWriterUnavailable, check_animation_output, save_animation
    from ..tasks import animate as animate_fn

    from ..core.capabilities import require
    from ..core.pyramid_model import NoiseInputs, PyramidModel

    if not (0 <= alpha <= 1 and 0 <= beta <= 1):
        raise click.BadParameter(f"alpha and beta must be in [0, 1], got {alpha}, {beta}", param_hint="--alpha/--beta")
    path = Path(out_path)
    try:  # the file's suffix, writer and folder are checked before any frame is generated
        check_animation_output(path, fps)
    except VideoWriterUnavailable as err:
        path = path.with_suffix(".gif")
        click.echo(f"warning: {err}; writing a GIF instead: {path}")
    model = load_model(model_dir, device, allow_incomplete=allow_incomplete)
    require(model, PyramidModel, "animate (sinkit animate walks through a pyramid's noise maps)")
    require(model, NoiseInputs, "animate (sinkit animate needs per-scale noise inputs)")
    index = parse_scale(start_scale, model.num_scales, param_hint="--start-scale")
    guard_memory(
        model, model.output_size(), outputs=2 * frames, batch=min(frames, 16), max_memory=max_memory,
        what=f"{frames} frames of {model.output_size()[0]}x{model.output_size()[1]} px",
        hint="use fewer --frames",
    )
    if not getattr(model.config, "noise_padding", True):
        click.echo("note: this model was trained without noise padding (official animation models use it: sinkit train --noise-padding)")
    start = time.perf_counter()
    clip = animate_fn(model, start_scale=index, frames=frames, alpha=alpha, beta=beta, generator=seed)
    _timed(f"{frames} frames of {clip.shape[2]}x{clip.shape[3]} px", start)
    written = save_animation(clip, path, fps=fps)
    echo_path("clip", written)
    picks = sorted({0, frames // 4, frames // 2, (3 * frames) // 4, frames - 1})
    sheet = save_grid(
        [training_image(model)] + [clip[i : i + 1] for i in picks],
        path.with_name(path.stem + "_frames.png"),
        ncol=len(picks) + 1,
        labels=["training image"] + [f"frame {i}" for i in picks],
    )
    echo_path("frames", sheet)


COMMANDS: list = [paint, edit_cmd, harmonize_cmd, upscale, animate, transfer]
