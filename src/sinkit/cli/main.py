"""``sinkit`` command line: a thin layer over the Python API.

Core commands live here (train, sample, translate, info); manipulation tasks
are in ``cli/tasks.py`` and evaluation in ``cli/evaluation.py``, each exporting
a ``COMMANDS`` list that is added to the group below.  A method package may add
its own commands in ``<package>/cli.py`` (``COMMANDS``), found through the
registry.  Nothing here names a method: commands ask a model what it can do
(:mod:`sinkit.core.capabilities`).
"""

from __future__ import annotations

import importlib
import importlib.util
import shlex
import signal
import time
from pathlib import Path

import click

from .common import (
    ALLOW_INCOMPLETE_OPTION,
    COUNT,
    DEVICE_OPTION,
    MAX_MEMORY_OPTION,
    POSITIVE,
    bad_parameter,
    echo_path,
    error_line,
    friendly_errors,
    guard_memory,
    interruptible,
    load_model,
    parse_scale,
    parse_set,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="sinkit")
def cli():
    """sinkit: learn a generative model from ONE image, then sample and manipulate.

    Scales are numbered from the coarsest: index 0 is the paper's N, index k is N-k;
    every scale option accepts either form (2 or N-2).
    """


# ----------------------------------------------------------------------------- train
def _method_from_args(args: list[str]) -> str | None:
    for i, arg in enumerate(args):
        if arg == "--method" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--method="):
            return arg.split("=", 1)[1]
    return None


def _config_default(cls, field: str):
    base = cls.presets.get("paper") if cls.presets else None
    return getattr(base if base is not None else cls.config_class(), field, None)


def _method_params(cls) -> list[click.Parameter]:
    """The options a method declares: its extra training inputs and its config options."""
    params: list[click.Parameter] = []
    for spec in cls.inputs[1:]:
        flag = f"--{spec.name.replace('_', '-')}"
        req = " [required]" if spec.required else ""
        params.append(click.Option([flag, spec.name], type=click.Path(dir_okay=False), help=f"{cls.method}: {spec.help}{req}"))
    for opt in cls.options:
        default = _config_default(cls, opt.field)
        shown = f"  [paper: {default}]" if default is not None else ""
        if opt.type is bool:
            name = opt.flag.lstrip("-")
            decls = [f"--{name}/--no-{name}", opt.field]
            params.append(click.Option(decls, default=None, help=f"{cls.method}: {opt.help}{shown}"))
        else:
            ptype = click.Choice(list(opt.choices)) if opt.choices else opt.type
            params.append(click.Option([opt.flag, opt.field], type=ptype, default=None, help=f"{cls.method}: {opt.help}{shown}"))
    return params


class TrainCommand(click.Command):
    """``sinkit train``: the generic options plus those of the method named by ``--method``."""

    def parse_args(self, ctx, args):
        from ..core.registry import get_method

        ctx.meta["sinkit_args"] = list(args)  # to print the exact command that resumes an interrupted run
        name = _method_from_args(args) or "singan"
        try:
            ctx.meta["sinkit_method_params"] = _method_params(get_method(name))
        except ValueError:
            ctx.meta["sinkit_method_params"] = []  # unknown method: reported by the command itself
        return super().parse_args(ctx, args)

    def get_params(self, ctx):
        params = super().get_params(ctx)
        extra = ctx.meta.get("sinkit_method_params", [])
        return params[:-1] + extra + params[-1:]  # keep --help last

    def format_epilog(self, ctx, formatter):
        from ..core.capabilities import describe_capabilities
        from ..core.registry import available_methods, get_method

        super().format_epilog(ctx, formatter)
        rows = []
        for name in available_methods():
            cls = get_method(name)
            extra = [f"--{s.name.replace('_', '-')}" for s in cls.inputs[1:]] + [o.flag for o in cls.options]
            text = f"presets: {', '.join(cls.presets)}; can: {', '.join(describe_capabilities(cls)) or '-'}"
            if extra:
                text += f"; options: {' '.join(extra)}"
            if cls.training_free:
                text += "; training-free"
            rows.append((name, text))
        with formatter.section("Methods (sinkit train --method NAME --help shows a method's own options)"):
            formatter.write_dl(rows)


@cli.command(cls=TrainCommand)
@click.argument("image", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Run directory: checkpoint, per-scale images, samples.")
@click.option("--method", default="singan", show_default=True, help="Training method (list below).")
@click.option("--preset", default="paper", show_default=True, help="Hyperparameter preset of the method (list below; paper = official defaults).")
@click.option("--resume", is_flag=True, help="Continue an interrupted run in --out (same image and options).")
@click.option("--overwrite", is_flag=True, help="Replace the run in --out: its model, per-scale images and samples are deleted first.")
@click.option("--max-size", type=int, help="Long side of the training image / finest scale, px.  [preset]")
@click.option("--iters", type=int, help="Training iterations (per scale for pyramid methods).  [preset]")
@click.option("--seed", type=int, help="Random seed (initialisation, noise).  [preset: 0]")
@click.option("--bf16/--no-bf16", default=None, help="bfloat16 autocast (faster on recent CPUs/GPUs).  [preset]")
@click.option("--task", type=click.Choice(["generate", "sr"]), default="generate", show_default=True, help="sr: super-resolution model for 'sinkit upscale' (the method's sr_config).")
@click.option("--factor", type=float, default=4.0, show_default=True, help="Upscaling factor an --task sr model is built for.")
@click.option("--set", "extra", multiple=True, metavar="KEY=VALUE", help="Override any config field, e.g. --set d_steps=1 (repeatable).")
@click.option("--samples", "num_samples", type=int, default=None, help="Random samples written when training ends (0: none).  [default: 8; 0 for training-free methods, whose 'training' only stores the image]")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@DEVICE_OPTION
@friendly_errors
def train(image, out_dir, method, preset, resume, overwrite, max_size, iters, seed, bf16, task, factor, extra, num_samples, quiet, device, **method_options):
    """Train a model on IMAGE and save it to --out.

    A checkpoint is saved as training goes (after every scale, or every few
    minutes), so Ctrl-C loses little: the message says how to resume.  An --out
    that already holds a model is refused unless --resume or --overwrite.

    \b
    Examples:
      sinkit train photo.jpg --out runs/photo                  # paper defaults
      sinkit train photo.jpg --out runs/photo --preset fast    # minutes on a CPU
      sinkit train photo.jpg --out runs/photo --resume         # after Ctrl-C
      sinkit train other.jpg --out runs/photo --overwrite      # replace that run
      sinkit train LR.png --out runs/lr --task sr --factor 4   # then: sinkit upscale runs/lr
      sinkit train fire.png --out runs/fire --noise-padding    # for: sinkit animate
    """
    from ..core.capabilities import Sampler
    from ..core.checkpoint import CheckpointWriteError
    from ..core.config import check_config, replace_config, resolve_config
    from ..core.io import image_size, save_grid, save_image
    from ..core.registry import get_method

    cls = get_method(method)
    if num_samples is None:
        num_samples = 0 if cls.training_free else 8
    with bad_parameter("--preset"):
        base = resolve_config(cls, preset)
    if task == "sr":
        if not hasattr(cls, "sr_config"):
            raise click.BadParameter(f"method {method} has no super-resolution configuration", param_hint="--task")
        base = cls.sr_config(base, factor)
    input_names = {s.name for s in cls.inputs[1:]}
    inputs = {cls.inputs[0].name: image, **{k: v for k, v in method_options.items() if k in input_names and v is not None}}
    overrides = dict(max_size=max_size, iters=iters, seed=seed, bf16=bf16)
    overrides.update({k: v for k, v in method_options.items() if k not in input_names})
    given = {k: v for k, v in overrides.items() if v is not None}
    missing = [k for k in given if not hasattr(base, k)]
    if missing:
        flags = ", ".join("--" + k.replace("_", "-") for k in missing)
        raise click.UsageError(f"{method} has no option {flags} (see sinkit train --method {method} --help)")
    overrides.update(parse_set(extra, base))
    if resume and overwrite:
        raise click.UsageError("--resume continues the run in --out, --overwrite replaces it: give one of them")
    config = check_config(replace_config(base, **overrides))
    resume_cmd = _resume_command(click.get_current_context())
    with interruptible(lambda signum: _interrupted_line(signum, out_dir, resume_cmd)):
        tensors = cls.load_inputs(inputs, config=config)
        img = tensors[cls.inputs[0].name]
        file_h, file_w = image_size(image)
        decoded = "" if (file_h, file_w) == tuple(img.shape[-2:]) else f", decoded at {img.shape[2]}x{img.shape[3]}"
        click.echo(f"training {method} ({preset} preset) on {image} ({file_h}x{file_w} px{decoded}) -> {out_dir}")
        if resume and not (Path(out_dir) / "model.safetensors").exists():
            click.echo(f"note: nothing to resume in {out_dir} yet: starting a new run")
        start = time.perf_counter()
        try:
            model = cls.fit(tensors, config, out_dir=out_dir, resume=resume, overwrite=overwrite, device=device, progress=not quiet)
        except CheckpointWriteError as err:
            raise click.ClickException(f"{error_line(err)}; once fixed, resume with: {resume_cmd}") from err
    elapsed = time.perf_counter() - start
    click.echo(f"trained in {elapsed:.1f} s")
    echo_path("checkpoint", out_dir)
    if (Path(out_dir) / "scales").is_dir():
        echo_path("per-scale", Path(out_dir) / "scales")
    if num_samples > 0 and isinstance(model, Sampler) and model.stochastic:
        samples = model.sample(num_samples, generator=config.seed)
        echo_path("samples", save_grid(samples, Path(out_dir) / "samples.png"))
    elif num_samples > 0 and model.reconstruction() is not None:  # deterministic: every "sample" is the reconstruction
        echo_path("reconstruction", save_image(model.reconstruction(), Path(out_dir) / "reconstruction.png"))


def _resume_command(ctx) -> str:
    """The command line that resumes this ``sinkit train`` run: the same arguments, ``--resume``
    instead of ``--overwrite``."""
    args = [a for a in ctx.meta.get("sinkit_args", []) if a not in ("--resume", "--overwrite")]
    return shlex.join(["sinkit", "train", *args, "--resume"])


def _interrupted_line(signum: int, out_dir: str, resume_cmd: str) -> str:
    from ..core.registry import load
    from ..core.training import progress_of

    what = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
    try:
        saved = f"{out_dir} keeps the last checkpoint ({progress_of(load(out_dir, device='cpu'))})"
    except Exception:  # noqa: BLE001 -- no checkpoint yet, or none readable: nothing to report but the command
        saved = f"nothing was saved in {out_dir} yet"
    return f"{what}: {saved}; resume with: {resume_cmd}"


# ----------------------------------------------------------------------------- sample
@cli.command()
@click.argument("model_dir", type=click.Path(exists=True))
@click.option("--num", default=8, show_default=True, type=COUNT, help="Number of samples.")
@click.option("--out", "out_dir", default="samples", show_default=True, type=click.Path(file_okay=False), help="Output folder for PNGs and the contact sheet.")
@click.option("--start-scale", default="0", show_default=True, help="Pyramid models: first scale with random noise: 0 (= N, most diverse), 1 (= N-1), ...")
@click.option("--scale-h", default=1.0, show_default=True, type=POSITIVE, help="Width factor of the samples (official 'arbitrary size' default 1.5).")
@click.option("--scale-v", default=1.0, show_default=True, type=POSITIVE, help="Height factor of the samples.")
@click.option("--seed", default=0, show_default=True, help="Random seed: the same seed gives the same images.")
@click.option("--batch-size", default=16, show_default=True, type=COUNT, help="Samples per forward pass.")
@click.option("--method", default=None, help="When MODEL_DIR is an image: a training-free method to sample with (the image is the model).")
@click.option("--preset", default=None, help="With --method on an image: the method's preset.  [default: paper]")
@click.option("--set", "extra", multiple=True, metavar="KEY=VALUE", help="Change a sampling option of the model for this run (nothing is saved), e.g. --set hr_refine=0 (PetsGAN: no HR refinement); an image with a training-free --method: any config field; a saved training-free model: any but max_size (repeatable; sinkit info lists the config).")
@MAX_MEMORY_OPTION
@ALLOW_INCOMPLETE_OPTION
@DEVICE_OPTION
@friendly_errors
def sample(model_dir, num, out_dir, start_scale, scale_h, scale_v, seed, batch_size, method, preset, extra, max_memory, allow_incomplete, device):
    """Draw random samples from a trained model (or from an image, with a training-free --method).

    \b
    Examples:
      sinkit sample runs/photo --num 20 --out samples/
      sinkit sample runs/photo --num 8 --start-scale N-1 --scale-h 2.0 --seed 7
      sinkit sample runs/petsgan --num 8 --set hr_refine=0
    """
    from ..core.capabilities import Sampler, require
    from ..core.io import ensure_dir, save_grid, save_image
    from ..core.pyramid import scaled_sizes
    from ..core.pyramid_model import PyramidModel

    out = ensure_dir(out_dir)
    model = load_model(model_dir, device, method=method, preset=preset, allow_incomplete=allow_incomplete, overrides=extra)
    require(model, Sampler, "draw random samples (sinkit sample)")
    options = {}
    h, w = model.output_size()
    if isinstance(model, PyramidModel):
        options = {"start_scale": parse_scale(start_scale, model.num_scales, param_hint="--start-scale"), "batch_size": batch_size, "scale_h": scale_h, "scale_v": scale_v}
        size = None
        out_h, out_w = scaled_sizes(model.sizes, scale_h, scale_v)[model.num_scales - 1]
    else:
        if start_scale.strip().upper() not in ("0", "N"):
            raise click.BadParameter(f"{model.method} models have no pyramid start scales", param_hint="--start-scale")
        size = out_h, out_w = (max(1, round(h * scale_v)), max(1, round(w * scale_h)))
    guard_memory(
        model, (out_h, out_w), outputs=num, batch=min(num, batch_size), max_memory=max_memory,
        what=f"{num} samples of {out_h}x{out_w} px (batches of {min(num, batch_size)})",
        hint="use a smaller --batch-size or --num, or smaller --scale-h/--scale-v",
    )
    start = time.perf_counter()
    samples = model.sample(num, size=size, generator=seed, **options)
    elapsed = time.perf_counter() - start
    for i in range(samples.shape[0]):
        save_image(samples[i : i + 1], out / f"sample_{i:03d}.png")
    sheet = save_grid(samples, out / "contact_sheet.png")
    click.echo(f"{num} samples of {samples.shape[2]}x{samples.shape[3]} px in {elapsed:.2f} s ({num / elapsed:.1f} samples/s)")
    echo_path("samples", out)
    echo_path("contact sheet", sheet)


# ----------------------------------------------------------------------------- translate
@cli.command()
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--primitive", "--input", "condition_path", required=True, type=click.Path(dir_okay=False), help="The (edited) primitive / condition image to translate.")
@click.option("--out", "out_dir", default="translate_out", show_default=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--seed", default=0, show_default=True, help="Random seed (for methods with noise).")
@MAX_MEMORY_OPTION
@ALLOW_INCOMPLETE_OPTION
@DEVICE_OPTION
@friendly_errors
def translate(model_dir, condition_path, out_dir, seed, max_memory, allow_incomplete, device):
    """Translate a primitive (edges, segmentation...) into an image with a conditional model.

    \b
    Example:
      sinkit translate runs/face --primitive face_edges_edited.png --out out/
    """
    from ..core.capabilities import Translator, require
    from ..core.io import ensure_dir, load_image, save_grid, save_image
    from ..core.resize import resize

    out = ensure_dir(out_dir)
    model = load_model(model_dir, device, allow_incomplete=allow_incomplete)
    require(model, Translator, "translate primitives (sinkit translate)")
    condition = load_image(condition_path).to(model.device)
    guard_memory(
        model, tuple(condition.shape[-2:]), max_memory=max_memory,
        what=f"translating a {condition.shape[2]}x{condition.shape[3]} px {model.condition_name}",
        hint=f"use a smaller {model.condition_name}",
    )
    start = time.perf_counter()
    result = model.translate(condition, generator=seed)
    click.echo(f"translated {condition.shape[2]}x{condition.shape[3]} -> {result.shape[2]}x{result.shape[3]} px in {time.perf_counter() - start:.2f} s")
    echo_path("result", save_image(result, out / "result.png"))
    echo_path(model.condition_name, save_image(condition, out / f"{model.condition_name}.png"))
    size = tuple(result.shape[-2:])
    shown = [resize(t.to(result.device), size) for t in model.training_inputs.values() if t.shape[1] == 3]
    labels = [f"training {n}" for n, t in model.training_inputs.items() if t.shape[1] == 3]
    tiles = shown + [resize(condition, size), result]
    echo_path("comparison", save_grid(tiles, out / "comparison.png", ncol=len(tiles), labels=labels + [model.condition_name, "result"]))


# ----------------------------------------------------------------------------- info
@cli.command()
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False))
@friendly_errors
def info(model_dir):
    """Show a trained model's method, inputs, scales or iterations, and training time."""
    from ..core.registry import load

    click.echo(load(model_dir, device="cpu").describe())


# ----------------------------------------------------------------------------- app
@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on: 127.0.0.1 = this machine only (0.0.0.0: every network; the page has no login).")
@click.option("--port", default=7860, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option("--runs", "runs_dir", default="~/sinkit-runs", show_default=True, type=click.Path(file_okay=False), help="Folder of the runs (normal sinkit run directories; the CLI can use them).")
@click.option("--jobs", default=1, show_default=True, type=click.IntRange(1, 64), help="Trainings at the same time (one is right for a CPU).")
@click.option("--threads", type=click.IntRange(1, 1024), default=None, help="Torch threads per training.  [default: torch's, or OMP_NUM_THREADS]")
@click.option("--max-upload-mb", default=25, show_default=True, type=click.IntRange(1, 2000), help="Largest accepted upload, MB.")
@DEVICE_OPTION
def app(host, port, runs_dir, jobs, threads, max_upload_mb, device):
    """Serve the browser app: upload an image, train with live progress, sample, paint, mask and edit in the page.

    Prints the URL to open; binds to this machine only unless --host says otherwise.
    Needs the app extra: pip install 'sinkit[app]'.

    \b
    Example:
      sinkit app --runs ~/sinkit-runs --port 7860
    """
    try:
        gradio_found = importlib.util.find_spec("gradio.blocks") is not None  # not just a leftover folder
    except ImportError:
        gradio_found = False
    if not gradio_found:
        raise click.ClickException("the browser app needs the 'app' extra (Gradio): pip install 'sinkit[app]'")
    from ..app.server import serve

    try:
        serve(host, port, runs_dir, jobs=jobs, threads=threads, device=device, max_upload_mb=max_upload_mb)
    except (RuntimeError, OSError, ValueError) as err:
        raise click.ClickException(str(err)) from err


def _add_plugins():
    from ..core.registry import method_modules
    from . import evaluation, tasks

    modules = [tasks, evaluation]
    for module_name in method_modules().values():
        name = f"{module_name}.cli"
        if importlib.util.find_spec(module_name) is not None and importlib.util.find_spec(name) is not None:
            modules.append(importlib.import_module(name))
    for module in modules:
        for command in getattr(module, "COMMANDS", []):
            cli.add_command(command)


_add_plugins()

if __name__ == "__main__":
    cli()
