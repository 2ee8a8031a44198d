"""``sinkit`` command line: a thin layer over the Python API.

Core commands live here (train, sample, info); manipulation tasks are in
``cli/tasks.py`` and evaluation in ``cli/evaluation.py``, each exporting a
``COMMANDS`` list that is added to the group below.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from .common import DEVICE_OPTION, echo_path, friendly_errors, parse_scale


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="sinkit")
def cli():
    """sinkit: learn a generative model from ONE image, then sample and manipulate.

    Scales are numbered from the coarsest: index 0 is the paper's N, index k is N-k;
    every scale option accepts either form (2 or N-2).
    """


def _method_names():
    from ..core.registry import available_methods

    return available_methods()


@cli.command()
@click.argument("image", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Run directory: checkpoint, per-scale images, samples.")
@click.option("--method", default="singan", show_default=True, help="Training method (singan, sinir, ...).")
@click.option("--preset", default="paper", show_default=True, help="Hyperparameter preset. singan: paper (official defaults), fast (CPU-friendly). sinir: paper, fast, photo_style, art_style, sr.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run in --out (same image and options).")
@click.option("--max-size", type=int, help="Long side of the finest scale, px.  [preset: paper 250]")
@click.option("--min-size", type=int, help="Short side of the coarsest scale, px.  [preset: paper 25]")
@click.option("--scale-factor", type=float, help="Nominal ratio between scales, < 1.  [preset: paper 0.75]")
@click.option("--iters", type=int, help="Training iterations per scale.  [preset: paper 2000]")
@click.option("--seed", type=int, help="Random seed (initialisation, noise).  [preset: 0]")
@click.option("--alpha", type=float, help="Reconstruction loss weight.  [preset: singan paper 10]")
@click.option("--bf16/--no-bf16", default=None, help="bfloat16 autocast (faster on recent CPUs/GPUs).  [preset: off]")
@click.option("--task", type=click.Choice(["generate", "sr"]), default="generate", show_default=True, help="sr: super-resolution model for 'sinkit upscale' (method's sr_config: SinGAN alpha 100, pyramid ratio factor**(-1/k)).")
@click.option("--factor", type=float, default=4.0, show_default=True, help="Upscaling factor an --task sr model is built for.")
@click.option("--noise-padding/--no-noise-padding", default=None, help="Draw noise at padded size (official animation models; SinGAN only).  [preset: off]")
@click.option("--set", "extra", multiple=True, metavar="KEY=VALUE", help="Override any config field, e.g. --set d_steps=1 (repeatable).")
@click.option("--samples", "num_samples", default=8, show_default=True, help="Random samples written when training ends (0: none).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@DEVICE_OPTION
@friendly_errors
def train(image, out_dir, method, preset, resume, max_size, min_size, scale_factor, iters, seed, alpha, bf16, task, factor, noise_padding, extra, num_samples, quiet, device):
    """Train a model on IMAGE and save it to --out.

    \b
    Examples:
      sinkit train photo.jpg --out runs/photo                  # paper defaults
      sinkit train photo.jpg --out runs/photo --preset fast    # minutes on a CPU
      sinkit train photo.jpg --out runs/photo --resume         # after Ctrl-C
      sinkit train LR.png --out runs/lr --task sr --factor 4   # then: sinkit upscale runs/lr
      sinkit train fire.png --out runs/fire --noise-padding    # for: sinkit animate
    """
    from ..core.config import replace_config
    from ..core.io import load_image, save_grid, save_image
    from ..core.registry import get_method

    cls = get_method(method)
    if preset not in cls.presets:
        raise click.BadParameter(f"unknown preset {preset!r} for {method}; available: {', '.join(cls.presets)}", param_hint="--preset")
    base = cls.presets[preset]
    if task == "sr":
        if not hasattr(cls, "sr_config"):
            raise click.BadParameter(f"method {method} has no super-resolution configuration", param_hint="--task")
        base = cls.sr_config(base, factor)
    overrides = dict(max_size=max_size, min_size=min_size, scale_factor=scale_factor, iters=iters, seed=seed, alpha=alpha, bf16=bf16, noise_padding=noise_padding)
    overrides.update(_parse_set(extra, base))
    config = replace_config(base, **overrides)
    img = load_image(image)
    click.echo(f"training {method} ({preset} preset) on {image} ({img.shape[2]}x{img.shape[3]} px) -> {out_dir}")
    start = time.perf_counter()
    model = cls.train(img, config, out_dir=out_dir, resume=resume, device=device, progress=not quiet)
    elapsed = time.perf_counter() - start
    click.echo(f"trained {model.num_scales} scales in {elapsed:.1f} s")
    echo_path("checkpoint", out_dir)
    echo_path("per-scale", Path(out_dir) / "scales")
    if num_samples > 0 and model.stochastic:
        samples = model.sample(num_samples, generator=config.seed)
        echo_path("samples", save_grid(samples, Path(out_dir) / "samples.png"))
    elif num_samples > 0:  # deterministic method: every "sample" is the reconstruction
        echo_path("reconstruction", save_image(model.reconstruct()[-1], Path(out_dir) / "reconstruction.png"))


def _parse_set(items, config) -> dict:
    import dataclasses
    import json

    fields = {f.name: f for f in dataclasses.fields(config)}
    out = {}
    for item in items:
        if "=" not in item:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--set")
        key, value = item.split("=", 1)
        key = key.strip().replace("-", "_")
        if key not in fields:
            raise click.BadParameter(f"{type(config).__name__} has no field {key!r}; fields: {', '.join(fields)}", param_hint="--set")
        current = getattr(config, key)
        try:
            parsed = json.loads(value.lower() if isinstance(current, bool) else value)
        except json.JSONDecodeError:
            parsed = value
        if isinstance(current, tuple):
            parsed = tuple(parsed)
        elif isinstance(current, float) and isinstance(parsed, int):
            parsed = float(parsed)
        if current is not None and not isinstance(parsed, type(current)):
            raise click.BadParameter(f"{key} expects {type(current).__name__}, got {value!r}", param_hint="--set")
        out[key] = parsed
    return out


@cli.command()
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--num", default=8, show_default=True, help="Number of samples.")
@click.option("--out", "out_dir", default="samples", show_default=True, type=click.Path(file_okay=False), help="Output folder for PNGs and the contact sheet.")
@click.option("--start-scale", default="0", show_default=True, help="First scale with random noise: 0 (= N, most diverse), 1 (= N-1), ...")
@click.option("--scale-h", default=1.0, show_default=True, help="Width factor of the samples (official 'arbitrary size' default 1.5).")
@click.option("--scale-v", default=1.0, show_default=True, help="Height factor of the samples.")
@click.option("--seed", default=0, show_default=True, help="Random seed: the same seed gives the same images.")
@click.option("--batch-size", default=16, show_default=True, help="Samples per forward pass.")
@DEVICE_OPTION
@friendly_errors
def sample(model_dir, num, out_dir, start_scale, scale_h, scale_v, seed, batch_size, device):
    """Draw random samples from a trained model.

    \b
    Examples:
      sinkit sample runs/photo --num 20 --out samples/
      sinkit sample runs/photo --num 8 --start-scale N-1 --scale-h 2.0 --seed 7
    """
    from ..core.io import save_grid, save_image
    from ..core.registry import load

    model = load(model_dir, device=device)
    index = parse_scale(start_scale, model.num_scales)
    start = time.perf_counter()
    samples = model.sample(num, start_scale=index, scale_h=scale_h, scale_v=scale_v, generator=seed, batch_size=batch_size)
    elapsed = time.perf_counter() - start
    out = Path(out_dir)
    for i in range(samples.shape[0]):
        save_image(samples[i : i + 1], out / f"sample_{i:03d}.png")
    sheet = save_grid(samples, out / "contact_sheet.png")
    click.echo(f"{num} samples of {samples.shape[2]}x{samples.shape[3]} px in {elapsed:.2f} s ({num / elapsed:.1f} samples/s)")
    echo_path("samples", out)
    echo_path("contact sheet", sheet)


@cli.command()
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False))
@friendly_errors
def info(model_dir):
    """Show a trained model's scales, sizes, noise amplitudes and training time."""
    from ..core.registry import load

    click.echo(load(model_dir, device="cpu").describe())


def _add_plugins():
    from . import evaluation, tasks

    for module in (tasks, evaluation):
        for command in getattr(module, "COMMANDS", []):
            cli.add_command(command)


_add_plugins()

if __name__ == "__main__":
    cli()
