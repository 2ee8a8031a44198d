"""CLI commands for evaluation (see sinkit.cli.main: every click command in COMMANDS is added).

``sinkit eval``: score samples (files or a trained model) against a training image.
``sinkit bench``: train, sample and score a method over a folder of images.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from .common import ALLOW_INCOMPLETE_OPTION, COUNT, DEVICE_OPTION, MAX_MEMORY_OPTION, bad_parameter, echo_path, friendly_errors, guard_memory, interruptible, load_model, parse_scale, parse_set


def _metric_list(text: str) -> list[str]:
    from ..metrics import SAMPLE_METRICS

    if text.strip().lower() == "all":
        return list(SAMPLE_METRICS)
    names = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [n for n in names if n not in SAMPLE_METRICS]
    if unknown:
        raise click.BadParameter(f"unknown metric(s) {', '.join(unknown)}; known: {', '.join(SAMPLE_METRICS)}", param_hint="--metrics")
    return names


#: file stems of the overview sheets the CLI writes into output folders (never scored as samples)
SHEET_NAMES = frozenset({"contact_sheet", "comparison", "sweep", "sweep_raw", "passes"})


def _load_folder(folder: Path):
    import torch

    from ..bench.harness import list_images
    from ..core.io import load_image

    # `sinkit sample --out DIR` writes contact_sheet.png next to the samples: not a sample
    files = [f for f in list_images(folder) if f.stem not in SHEET_NAMES]
    if not files:
        raise ValueError(f"{folder} holds no sample images (only {', '.join(sorted(SHEET_NAMES))})")
    images = [load_image(f) for f in files]
    sizes = {tuple(i.shape[-2:]) for i in images}
    if len(sizes) != 1:
        raise ValueError(f"the samples in {folder} have different sizes {sorted(sizes)}; they must share one")
    return torch.cat(images)


METRICS_HELP = "Comma-separated metrics or 'all': sifid64, sifid192, lpips_div, diversity, patch_swd, nn_patch."


@click.command("eval")
@click.argument("real", type=click.Path(exists=True, dir_okay=False))
@click.argument("samples", type=click.Path(exists=True))
@click.option("--start-scale", default="N", show_default=True, help="When SAMPLES is a model: first scale with random noise (N, N-1, ... or 0, 1, ...).")
@click.option("--num", default=10, show_default=True, type=COUNT, help="When SAMPLES is a model: samples to draw.")
@click.option("--seed", default=0, show_default=True, help="When SAMPLES is a model: sampling seed.")
@click.option("--metrics", "metric_text", default="all", show_default=True, help=METRICS_HELP)
@click.option("--reference", type=click.Path(exists=True, dir_okay=False), help="Fidelity mode: also score PSNR / RMSE (0-255) / SSIM / MS-SSIM of the first sample against this image.")
@click.option("--inception", default="fid", show_default=True, type=click.Choice(["fid", "torchvision"]), help="SIFID weights: TF FID port, or the torchvision ImageNet weights the official SinGAN script used.")
@click.option("--offline", is_flag=True, help="Never try to download metric weights.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the scores to this JSON file.")
@MAX_MEMORY_OPTION
@ALLOW_INCOMPLETE_OPTION
@DEVICE_OPTION
@friendly_errors
def eval_command(real, samples, start_scale, num, seed, metric_text, reference, inception, offline, json_out, max_memory, allow_incomplete, device):
    """Score SAMPLES against the training image REAL.

    SAMPLES is a folder of images (all of one size), a single image, or a trained
    model folder (then --num samples are drawn from --start-scale).  Metrics whose
    weights are missing are listed with the file to download, and skipped.

    \b
    Examples:
      sinkit eval photo.jpg runs/photo --start-scale N-1 --num 50
      sinkit eval photo.jpg samples/ --metrics sifid64,diversity
      sinkit eval lr.png sr.png --reference hr.png --metrics nn_patch
    """
    from ..core.capabilities import Sampler, require
    from ..core.device import resolve_device
    from ..core.io import ensure_dir, load_image
    from ..core.pyramid_model import PyramidModel
    from ..metrics.evaluate import _DeepModels, deep_metric_status, evaluate_fidelity, evaluate_samples

    dev = resolve_device(device)
    names = _metric_list(metric_text)
    if json_out:
        ensure_dir(Path(json_out).parent, "folder of --json")
    path = Path(samples)
    if path.is_dir() and (path / "model.safetensors").exists():
        model = load_model(str(path), dev, allow_incomplete=allow_incomplete)
        require(model, Sampler, "draw samples to score (sinkit eval MODEL)")
        options = {"start_scale": parse_scale(start_scale, model.num_scales, param_hint="--start-scale")} if isinstance(model, PyramidModel) else {}
        h, w = model.output_size()
        guard_memory(model, (h, w), outputs=num, batch=min(num, 16), max_memory=max_memory, what=f"{num} samples of {h}x{w} px", hint="use a smaller --num")
        fake = model.sample(num, generator=seed, **options)
        image = model.training_image()
        click.echo(f"{num} samples from {path} (start scale {start_scale}); scoring against the model's training image at {image.shape[2]}x{image.shape[3]} px")
    else:
        fake = _load_folder(path) if path.is_dir() else load_image(path)
        image = load_image(real)
    fake, image = fake.to(dev), image.to(dev)
    status = deep_metric_status(download=not offline, inception=inception)
    runnable = [n for n in names if status.get(n) is None]
    scores: dict[str, float] = {}
    start = time.perf_counter()
    if runnable:
        if fake.shape[0] < 2:
            runnable = [n for n in runnable if n not in ("diversity", "lpips_div")]
        scores.update(evaluate_samples(fake, image, metrics=runnable, deep_models=_DeepModels(inception)))
    if reference is not None:
        ref = load_image(reference).to(dev)
        if fake.shape[-2:] != ref.shape[-2:]:
            raise ValueError(
                f"--reference is {ref.shape[2]}x{ref.shape[3]} px but the sample is {fake.shape[2]}x{fake.shape[3]} px; "
                "fidelity needs images of the same size"
            )
        scores.update(evaluate_fidelity(fake[:1], ref))
    elapsed = time.perf_counter() - start
    for name, value in scores.items():
        click.echo(f"{name:<10} {value:.5f}")
    for name in names:
        if status.get(name):
            click.echo(f"{name:<10} not computed: {status[name]}", err=True)
    click.echo(f"({fake.shape[0]} images of {fake.shape[2]}x{fake.shape[3]} px scored in {elapsed:.1f} s)")
    if json_out:
        Path(json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(json_out).write_text(json.dumps(scores, indent=2))
        echo_path("scores", json_out)


@click.command("bench")
@click.argument("dataset", type=click.Path(exists=True, file_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder: models, sheets, results.csv, summary.md, plot (one sub-folder per method-preset when several).")
@click.option("--method", default="singan", show_default=True, help="Any registered method (sinkit.available_methods()); several comma-separated (singan,sinir), each optionally METHOD:PRESET.")
@click.option("--preset", default="fast", show_default=True, help="The methods' hyperparameter preset (unless given as METHOD:PRESET).")
@click.option("--samples", default=10, show_default=True, type=click.IntRange(min=2), help="Samples per image and start scale (SinGAN's paper: 100; at least 2 for the diversity measures).")
@click.option("--start-scales", default="N,N-1", show_default=True, help="Comma-separated start scales: N (coarsest), N-1, ... or indices 0, 1, ...")
@click.option("--limit", type=COUNT, help="Only the first LIMIT images (natural file order).  [default: all]")
@click.option("--seed", default=0, show_default=True, help="Sampling seed.")
@click.option("--seeds", "seed_text", help="Comma-separated training seeds (the config's seed): one run per image and seed, e.g. 0,1,2.  [default: the preset's seed, one run per image]")
@click.option("--metrics", "metric_text", default="all", show_default=True, help=METRICS_HELP)
@click.option("--set", "extra", multiple=True, metavar="KEY=VALUE", help="Override a config field of the preset, e.g. --set iters=100 (repeatable; applies to every method).")
@click.option("--inception", default="fid", show_default=True, type=click.Choice(["fid", "torchvision"]), help="SIFID weights (see sinkit eval --help).")
@click.option("--offline", is_flag=True, help="Never try to download metric weights.")
@click.option("--quiet", is_flag=True, help="No progress bars (one line per image still).")
@click.option("--report-only", is_flag=True, help="Only rewrite results.csv, summary.md and the plot (and comparison.md) from the finished images in --out.")
@click.option("--ray", "ray_address", metavar="ADDRESS", help="Run every (method, image, seed) as a Ray task: auto (the cluster on this machine, else a new local one on every core/GPU), local, ray://head:10001, head:6379.  Needs pip install 'sinkit[ray]' and --out / DATASET on a filesystem all nodes share.")
@click.option("--ray-cpus", type=int, help="With --ray auto/local: CPUs of the local cluster started here.  [default: every core]")
@click.option("--cpus-per-task", default=1.0, show_default=True, help="With --ray: CPUs each task declares (and its torch threads).")
@click.option("--gpus-per-task", default=0.0, show_default=True, help="With --ray: GPUs each task declares (0.5: two tasks share a GPU).")
@click.option("--memory-per-task", default=2.0, show_default=True, help="With --ray: memory each task declares, GiB (SinGAN fast peaks at 0.6, paper at 3.4 on a CPU).")
@click.option("--max-retries", default=3, show_default=True, help="With --ray: how often a task whose worker or node died is re-run.")
@DEVICE_OPTION
@friendly_errors
def bench_command(dataset, out_dir, method, preset, samples, start_scales, limit, seed, seed_text, metric_text, extra, inception, offline, quiet, report_only,
                  ray_address, ray_cpus, cpus_per_task, gpus_per_task, memory_per_task, max_retries, device):
    """Train METHOD on every image of DATASET, sample, and score every available metric.

    Resumable: images finished earlier are skipped, the image in progress resumes
    from its last saved checkpoint.  Writes results.csv (one row per image), summary.md
    (mean and std per metric next to the papers' numbers, failures with their error),
    a contact sheet per image and metric_vs_time.png; with several methods, one
    folder per method-preset and comparison.md.  With --ray, Ray schedules one task
    per (method, image, seed) on a cluster (docs/scaling.md).

    \b
    Examples:
      sinkit bench data/places50 --method singan --preset fast --samples 10 \\
          --start-scales N,N-1 --limit 10 --out results/places50-singan-fast
      sinkit bench data/places50 --method singan,sinir --out results/ --ray auto
      sinkit bench data/places50 --method singan --preset paper --out results/ \\
          --ray ray://head:10001 --gpus-per-task 1 --seeds 0,1,2
    """
    from ..bench import BenchSettings, run_benchmarks, write_comparison, write_reports
    from ..core.config import resolve_config
    from ..core.io import ensure_dir
    from ..core.registry import get_method
    from ..metrics.evaluate import deep_metric_status

    if report_only:
        root = Path(out_dir)
        folders = [root] if (root / "bench.json").exists() else sorted(p.parent for p in root.glob("*/bench.json"))
        if not folders:
            raise click.ClickException(f"{out_dir} holds no benchmark (no bench.json)")
        for folder in folders:
            settings = json.loads((folder / "bench.json").read_text())["settings"]
            status = deep_metric_status(download=not offline, inception=settings.get("inception", "fid"))
            for name, path in write_reports(folder, status={m: status.get(m) for m in settings["metrics"]}).items():
                echo_path(path.name, path)
        if folders != [root]:
            echo_path("comparison.md", write_comparison(root, folders))
        return

    seeds = None
    if seed_text:
        try:
            seeds = [int(t) for t in seed_text.split(",") if t.strip()]
        except ValueError:
            raise click.BadParameter(f"expected comma-separated integers, got {seed_text!r}", param_hint="--seeds") from None
    all_settings = []
    for item in [t.strip() for t in method.split(",") if t.strip()]:
        name, _, own_preset = item.partition(":")
        cls = get_method(name)
        with bad_parameter("--preset"):
            base = resolve_config(cls, own_preset or preset)
        all_settings.append(BenchSettings(
            method=name,
            preset=own_preset or preset,
            overrides=parse_set(extra, base),
            samples=samples,
            start_scales=[s.strip() for s in start_scales.split(",") if s.strip()],
            seed=seed,
            metrics=_metric_list(metric_text),
            inception=inception,
            seeds=seeds,
        ))
    if not all_settings:
        raise click.BadParameter("no method given", param_hint="--method")
    ray = None
    if ray_address:
        from ..bench.ray_runner import RayOptions

        ray = RayOptions(address=ray_address, num_cpus=ray_cpus, cpus_per_task=cpus_per_task, gpus_per_task=gpus_per_task,
                         memory_per_task_gb=memory_per_task, max_retries=max_retries)
    ensure_dir(out_dir, "benchmark folder")
    start = time.perf_counter()

    def interrupted(signum: int) -> str:
        return f"interrupted: finished images are kept in {out_dir}; run the same command again to continue (the image in progress resumes from its last checkpoint)"

    with interruptible(interrupted):
        folders = run_benchmarks(dataset, out_dir, all_settings, ray=ray, limit=limit, device=device, download=not offline,
                                 progress=not quiet, log=click.echo)
    click.echo(f"bench finished in {(time.perf_counter() - start) / 60:.1f} min")
    for out in folders:
        for name in ("results.csv", "summary.md", "metric_vs_time.png"):
            if (out / name).exists():
                echo_path(name, out / name)
        echo_path("contact sheets", out / "sheets")
    if len(folders) > 1:
        echo_path("comparison.md", Path(out_dir) / "comparison.md")


COMMANDS: list = [eval_command, bench_command]
