"""The Gradio page: the only module of sinkit that imports gradio.

Layout: a run selector with the run's status, Cancel and Resume on top; tabs
**New run** (upload, method, preset, settings, estimate, start), **Progress**
(live progress, per-scale images, the runs table), then one tab per thing the
selected run's model can do (Sample, Paint, Edit & harmonize, Inject & sweep,
Super-resolution, Animate, Translate), shown only when its capability is there
(:func:`sinkit.app.actions.features`).  Every handler is wrapped by
:func:`_guard`: the library's errors become readable messages in the page
(``gr.Error``), anything unexpected too (with the traceback in the terminal),
and the server keeps running.
"""

from __future__ import annotations

import functools
import html
import shutil
import time
import traceback
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from ..core.errors import SinkitError
from ..core.scales import scale_label
from . import actions
from .actions import Limits, validate_upload
from .estimate import calibrate, estimate
from .jobs import JobQueue
from .methods import build_config, catalogue, cli_command, default_preset
from .progress import format_seconds, overall
from .runs import ACTIVE, RESUMABLE, RunStore

__all__ = ["build_app"]

EXAMPLE = resources.files("sinkit") / "data" / "rocket.jpg"
MASK_COLOR = "#ff00ff"
PAINT_COLORS = ["#1f3b73", "#5fa8d3", "#f2f2f2", "#2e7d32", "#8d6e63", "#f9a825", "#c62828", "#000000"]

CSS = """
.sinkit-result img {width: 100%; height: 100%; object-fit: contain;}
#sinkit-progress .bar {background: var(--neutral-200); border-radius: 6px; height: 14px; overflow: hidden;}
#sinkit-progress .fill {background: var(--color-accent); height: 100%;}
footer {visibility: hidden}
"""


def _guard(fn: Callable) -> Callable:
    """Run a page handler; the library's errors become a readable message in the page."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except (SinkitError, ValueError, TypeError, FileNotFoundError, KeyError) as err:
            raise gr.Error(str(err).strip("'\"") or type(err).__name__, duration=None) from None
        except Exception as err:
            traceback.print_exc()
            raise gr.Error(f"unexpected error ({type(err).__name__}): {err}. The server keeps running; the terminal has the details.", duration=None) from None

    return wrapper


def _shown(path: Path) -> str:
    """A path as the page shows it: ``~/...`` under the user's home folder."""
    try:
        return "~/" + str(Path(path).relative_to(Path.home()))
    except ValueError:
        return str(path)


def _notify(notes: list[str]) -> str:
    for note in notes:
        gr.Warning(note)
    return "\n".join(f"- note: {html.escape(n)}" for n in notes)


def _scale_choices(scales: list[int], with_all: bool = True) -> list[tuple[str, str]]:
    choices = [(f"{scale_label(s)}  (index {s})", str(s)) for s in scales]
    if with_all and len(scales) > 1:
        choices.append(("all: labelled strip over every scale", "all"))
    return choices


def build_app(store: RunStore, queue: JobQueue, *, limits: Limits | None = None, calibration_threads: int | None = None) -> gr.Blocks:
    """The page for the runs folder ``store``, training through ``queue``."""
    limits = limits or Limits()
    methods = catalogue()
    if not methods:
        raise RuntimeError("no sinkit method is registered")
    # the default: a method that samples and has a CPU-friendly preset (the page's first use is "train, then sample")
    first_method = next((n for n, i in methods.items() if "sample" in i.capabilities and "fast" in i.presets), next(iter(methods)))
    extra_inputs: dict[str, str] = {}
    for info in methods.values():
        for spec in info.inputs[1:]:
            extra_inputs.setdefault(spec.name, spec.help)

    with gr.Blocks(title="sinkit", analytics_enabled=False, delete_cache=(3600, 24 * 3600)) as demo:
        session = gr.State({})
        gr.Markdown(
            "## sinkit: learn a generative model from one image\n"
            f"Runs are stored in `{_shown(store.root)}` (normal `sinkit train --out` folders: the command line can use them). "
            f"Training queue: {queue.max_running} at a time."
        )
        with gr.Row(equal_height=True):
            run = gr.Dropdown(label="Run", choices=store.names(), value=(store.names() or [None])[0], scale=2, elem_id="run-select", allow_custom_value=False)
            status = gr.Markdown(elem_id="run-status")
            with gr.Column(scale=1, min_width=160):
                cancel_btn = gr.Button("Cancel training", size="sm", variant="stop", elem_id="cancel")
                resume_btn = gr.Button("Resume training", size="sm", elem_id="resume")

        with gr.Tabs(selected="new") as tabs:
            # ------------------------------------------------------------------ new run
            with gr.Tab("New run", id="new"):
                with gr.Row():
                    with gr.Column():
                        image = gr.Image(label="Training image", type="filepath", image_mode=None, format="png", sources=["upload", "clipboard"], height=300, elem_id="train-image")
                        gr.Examples([[str(EXAMPLE)]], inputs=[image], label="Bundled example (public-domain launch photo)")
                        extra = {name: gr.Image(label=f"{name}: {help_}", type="filepath", image_mode=None, format="png", sources=["upload", "clipboard"], height=200, visible=False, elem_id=f"input-{name}") for name, help_ in extra_inputs.items()}
                    with gr.Column():
                        method = gr.Dropdown(label="Method", choices=[(i.label(), n) for n, i in methods.items()], value=first_method, elem_id="method")
                        usage = gr.Markdown(methods[first_method].usage)
                        preset = gr.Dropdown(label="Preset (paper = the official settings; fast = minutes on a CPU)", choices=list(methods[first_method].presets), value=default_preset(methods[first_method]), elem_id="preset")
                        with gr.Row():
                            task = gr.Radio(["generate", "super-resolution"], value="generate", label="Train for", visible=methods[first_method].can_sr)
                            factor = gr.Number(4.0, label="Upscaling factor", minimum=1.1, maximum=16, visible=False)
                        first_config = build_config(first_method, default_preset(methods[first_method]))[0]

                        def preset_text(config, field):
                            value = getattr(config, field, None)
                            return "" if value is None else str(value)

                        with gr.Row():
                            iters = gr.Textbox(preset_text(first_config, "iters"), label="Iterations (per scale for pyramids)", elem_id="iters", visible="iters" in methods[first_method].common)
                            max_size = gr.Textbox(preset_text(first_config, "max_size"), label="Max size, px (long side)", elem_id="max-size", visible="max_size" in methods[first_method].common)
                            seed = gr.Textbox(preset_text(first_config, "seed"), label="Seed", elem_id="seed", visible="seed" in methods[first_method].common)
                        options = {}
                        with gr.Accordion("Method options", open=False):
                            for info in methods.values():
                                for opt in info.options:
                                    label = f"{opt.flag.lstrip('-')}: {opt.help}"
                                    visible = info.name == first_method
                                    value = getattr(first_config, opt.field, None) if visible else None
                                    if opt.type is bool:
                                        comp = gr.Checkbox(bool(value), label=label, visible=visible)
                                    elif opt.choices:
                                        comp = gr.Dropdown(list(opt.choices), value=value, label=label, visible=visible)
                                    else:
                                        comp = gr.Textbox("" if value is None else str(value), label=label, visible=visible)
                                    options[(info.name, opt.field)] = (opt, comp)
                            other = gr.Textbox(label="Other settings: KEY=VALUE per line (as sinkit train --set)", lines=2, placeholder="d_steps=1\nlr_g=1e-4", elem_id="other")
                        run_name = gr.Textbox(label="Run name", placeholder="from the image file name", elem_id="run-name")
                        estimate_md = gr.Markdown(elem_id="estimate")
                        with gr.Row():
                            estimate_btn = gr.Button("Estimate time (short calibration)", elem_id="estimate-btn")
                            start_btn = gr.Button("Start training", variant="primary", elem_id="start")

            # ------------------------------------------------------------------ progress
            with gr.Tab("Progress", id="progress"):
                progress_html = gr.HTML(elem_id="sinkit-progress")
                with gr.Row():
                    with gr.Column(scale=3):
                        scale_gallery = gr.Gallery(label="Latest per-scale images (real / reconstruction / samples)", columns=3, height=320, object_fit="contain", elem_id="scale-gallery")
                    with gr.Column(scale=2):
                        command_md = gr.Markdown(elem_id="command")
                runs_table = gr.Dataframe(headers=["run", "method", "preset", "status", "training time", "created"], interactive=False, label="Runs (click a row to select it)", elem_id="runs-table", wrap=True)

            # ------------------------------------------------------------------ sample
            with gr.Tab("Sample", id="sample", visible=False) as sample_tab:
                with gr.Row():
                    num = gr.Slider(1, 32, 8, step=1, label="Number of samples", elem_id="num-samples")
                    sample_seed = gr.Number(0, label="Seed", precision=0, elem_id="sample-seed")
                    start_scale = gr.Slider(0, 1, 0, step=1, label="Start scale (0 = coarsest = N: most diverse)", elem_id="start-scale")
                with gr.Row():
                    scale_h = gr.Slider(0.5, 3, 1, step=0.25, label="Width x", elem_id="scale-h")
                    scale_v = gr.Slider(0.5, 3, 1, step=0.25, label="Height x", elem_id="scale-v")
                sample_btn = gr.Button("Sample", variant="primary", elem_id="sample-btn")
                sample_note = gr.Markdown()
                samples = gr.Gallery(label="Samples (click one to enlarge; download buttons on the preview)", columns=4, height="auto", format="png", object_fit="contain", elem_id="samples", buttons=["download", "fullscreen"])
                samples_zip = gr.File(label="All samples (zip)", elem_id="samples-zip")

            # ------------------------------------------------------------------ paint
            with gr.Tab("Paint", id="paint", visible=False) as paint_tab:
                gr.Markdown("Paint-to-image: paint flat colours over the training image or a blank canvas; the painting is injected at a coarse scale and completed with the patches the model learned.")
                with gr.Row():
                    with gr.Column():
                        paint_editor = gr.ImageEditor(label="Paint canvas", type="numpy", image_mode="RGBA", sources=["upload", "clipboard"], brush=gr.Brush(default_size=8, colors=PAINT_COLORS, color_mode="defaults"), eraser=gr.Eraser(default_size=8), layers=False, transforms=(), height=380, elem_id="paint-editor")
                        with gr.Row():
                            paint_reset = gr.Button("Training image", size="sm")
                            paint_blank = gr.Button("Blank canvas", size="sm")
                    with gr.Column():
                        paint_scale = gr.Dropdown(label="Injection scale", elem_id="paint-scale")
                        with gr.Row():
                            quantize = gr.Checkbox(False, label="Quantize to the image's colours")
                            k_colors = gr.Slider(2, 12, 5, step=1, label="k colours")
                            paint_seed = gr.Number(0, label="Seed", precision=0)
                        paint_btn = gr.Button("Paint to image", variant="primary", elem_id="paint-btn")
                        paint_out = gr.Image(label="Result", type="filepath", format="png", interactive=False, height=300, elem_id="paint-result", elem_classes="sinkit-result")
                        paint_note = gr.Markdown()

            # ------------------------------------------------------------------ edit / harmonize
            with gr.Tab("Edit & harmonize", id="edit", visible=False) as edit_tab:
                gr.Markdown(
                    "**Editing**: the model was trained on the original; change the image (paint on it, or upload an edited copy), "
                    "then paint the mask over the changed region. **Harmonization**: the model was trained on the background; upload "
                    "the naive composite and mask the pasted object. The brush and eraser sizes are in the canvas toolbar."
                )
                with gr.Row():
                    with gr.Column():
                        edit_input = gr.ImageEditor(label="1. Image to edit / composite", type="numpy", image_mode="RGBA", sources=["upload", "clipboard"], brush=gr.Brush(default_size=6, colors=PAINT_COLORS, color_mode="defaults"), eraser=gr.Eraser(default_size=6), layers=False, transforms=(), height=340, elem_id="edit-input")
                        with gr.Row():
                            edit_reset = gr.Button("Training image", size="sm")
                            to_mask = gr.Button("Use it under the mask ->", size="sm", elem_id="to-mask")
                    with gr.Column():
                        mask_editor = gr.ImageEditor(label="2. Mask: paint the region to regenerate", type="numpy", image_mode="RGBA", sources=(), brush=gr.Brush(default_size=8, colors=[MASK_COLOR], color_mode="fixed"), eraser=gr.Eraser(default_size=8), layers=False, transforms=(), height=340, elem_id="mask-editor")
                with gr.Row():
                    edit_task = gr.Radio(["edit", "harmonize"], value="edit", label="Task", elem_id="edit-task")
                    edit_scale = gr.Dropdown(label="Injection scale", elem_id="edit-scale")
                    dilation = gr.Slider(0, 40, 20, step=1, label="Mask dilation, px (method's official value preset)", elem_id="dilation")
                    edit_seed = gr.Number(0, label="Seed", precision=0)
                edit_btn = gr.Button("Run", variant="primary", elem_id="edit-btn")
                with gr.Row():
                    edit_out = gr.Image(label="Result (blended)", type="filepath", format="png", interactive=False, height=260, elem_id="edit-result", elem_classes="sinkit-result")
                    edit_raw = gr.Image(label="Generated before blending", type="filepath", format="png", interactive=False, height=260, elem_classes="sinkit-result")
                    edit_mask_used = gr.Image(label="Mask used (dilated, blurred)", type="filepath", format="png", interactive=False, height=260, elem_classes="sinkit-result")
                edit_strip = gr.Image(label="Comparison / sweep strip", type="filepath", format="png", interactive=False, height=220, elem_id="edit-strip", elem_classes="sinkit-result")
                edit_note = gr.Markdown()

            # ------------------------------------------------------------------ inject / sweep
            with gr.Tab("Inject & sweep", id="inject", visible=False) as inject_tab:
                gr.Markdown("Inject any image at a scale (style transfer). Choose **all** to see every injection scale side by side: coarse scales change structure, fine scales only texture and colour.")
                with gr.Row():
                    with gr.Column():
                        inject_image = gr.Image(label="Image to inject (default: the training image)", type="filepath", image_mode=None, format="png", sources=["upload", "clipboard"], height=260)
                        inject_scale = gr.Dropdown(label="Injection scale", elem_id="inject-scale")
                        with gr.Row():
                            keep_shape = gr.Checkbox(False, label="Keep the image's aspect ratio")
                            inject_seed = gr.Number(0, label="Seed", precision=0)
                        inject_btn = gr.Button("Inject", variant="primary", elem_id="inject-btn")
                    with gr.Column():
                        inject_out = gr.Image(label="Result / labelled sweep strip", type="filepath", format="png", interactive=False, height=360, elem_id="inject-result", elem_classes="sinkit-result")
                        inject_note = gr.Markdown()

            # ------------------------------------------------------------------ super-resolution
            with gr.Tab("Super-resolution", id="sr", visible=False) as sr_tab:
                gr.Markdown("Upscale with the model's finest generator, k times by the pyramid's ratio. Best with a model trained for **super-resolution** (New run, 'Train for').")
                with gr.Row():
                    with gr.Column():
                        sr_image = gr.Image(label="Low-resolution image (default: the training image)", type="filepath", image_mode=None, format="png", sources=["upload", "clipboard"], height=240)
                        with gr.Row():
                            sr_factor = gr.Slider(1.5, 8, 4, step=0.5, label="Factor")
                            sr_noise = gr.Radio(["random", "zero"], value="random", label="Noise")
                            sr_seed = gr.Number(0, label="Seed", precision=0)
                        sr_btn = gr.Button("Upscale", variant="primary", elem_id="sr-btn")
                    with gr.Column():
                        sr_out = gr.Image(label="Bicubic vs sinkit", type="filepath", format="png", interactive=False, height=320, elem_id="sr-result", elem_classes="sinkit-result")
                        sr_file = gr.File(label="Full-size result")
                        sr_note = gr.Markdown()

            # ------------------------------------------------------------------ animate
            with gr.Tab("Animate", id="animate", visible=False) as animate_tab:
                gr.Markdown("A random walk in noise space from the reconstruction. Best with a model trained with noise padding (Method options).")
                with gr.Row():
                    anim_start = gr.Slider(0, 1, 0, step=1, label="Start scale (0 = largest motion)")
                    frames = gr.Slider(10, 200, 40, step=10, label="Frames")
                    fps = gr.Slider(2, 30, 10, step=1, label="Frames per second")
                with gr.Row():
                    beta = gr.Slider(0.5, 0.99, 0.9, step=0.01, label="beta (smoothness)")
                    alpha = gr.Slider(0.0, 0.5, 0.1, step=0.01, label="alpha (pull to the image)")
                    fmt = gr.Radio(["gif", "mp4"], value="gif", label="Format")
                    anim_seed = gr.Number(0, label="Seed", precision=0)
                anim_btn = gr.Button("Animate", variant="primary", elem_id="animate-btn")
                with gr.Row():
                    anim_gif = gr.Image(label="Clip (GIF)", type="filepath", format="gif", interactive=False, height=320, elem_id="anim-gif", elem_classes="sinkit-result")
                    anim_mp4 = gr.Video(label="Clip (MP4)", visible=False, loop=True, autoplay=True, height=320, elem_id="anim-mp4")
                anim_frames = gr.Image(label="Frames", type="filepath", format="png", interactive=False, height=200)
                anim_note = gr.Markdown()

            # ------------------------------------------------------------------ translate
            with gr.Tab("Translate", id="translate", visible=False) as translate_tab:
                gr.Markdown("Conditional models: draw on the primitive (edges, segmentation...) the model was trained with, or upload another, then translate it into an image.")
                with gr.Row():
                    with gr.Column():
                        cond_editor = gr.ImageEditor(label="Primitive", type="numpy", image_mode="RGBA", sources=["upload", "clipboard"], brush=gr.Brush(default_size=3, colors=["#000000", "#ffffff", "#ff0000", "#00ff00", "#0000ff"], color_mode="defaults"), eraser=gr.Eraser(default_size=6), layers=False, transforms=(), height=360, elem_id="cond-editor")
                        cond_reset = gr.Button("Training primitive", size="sm")
                        tr_seed = gr.Number(0, label="Seed", precision=0)
                        tr_btn = gr.Button("Translate", variant="primary", elem_id="translate-btn")
                    with gr.Column():
                        tr_out = gr.Image(label="Result", type="filepath", format="png", interactive=False, height=300, elem_id="translate-result", elem_classes="sinkit-result")
                        tr_strip = gr.Image(label="Comparison", type="filepath", format="png", interactive=False, height=200)

        timer = gr.Timer(1.0)

        cap_tabs = [sample_tab, paint_tab, edit_tab, inject_tab, sr_tab, animate_tab, translate_tab]

        # ====================================================================== helpers
        def model_of(name: str):
            if not name:
                raise ValueError("select a run first (or start one in 'New run')")
            return store.model(name)

        def out_dir(name: str, task_name: str) -> Path:
            return store.new_output_dir(name, task_name)

        def ready_model(name: str):
            model = model_of(name)
            job = store.job(name) or {}
            if job.get("status") in ACTIVE:
                gr.Info("training is still running: this uses its latest checkpoint")
            return model

        # ====================================================================== new run
        option_items = [(key, comp) for key, (_opt, comp) in options.items()]

        def on_method(name):
            info = methods[name]
            updates = [
                gr.update(choices=list(info.presets), value=default_preset(info)),
                gr.update(value=info.usage),
                gr.update(visible=info.can_sr, value="generate"),
                gr.update(visible=False),
                gr.update(visible="iters" in info.common),
                gr.update(visible="max_size" in info.common),
                gr.update(visible="seed" in info.common),
            ]
            names = {s.name for s in info.inputs[1:]}
            updates += [gr.update(visible=n in names) for n in extra]
            updates += [gr.update(visible=m == name) for (m, _), _c in option_items]
            return [*updates, ""]  # other settings belong to the previous method's config

        task.change(lambda t: gr.update(visible=t == "super-resolution"), task, factor)

        def on_preset(method_name, preset_name, task_value, factor_value):
            config, _ = build_config(method_name, preset_name, task="sr" if task_value == "super-resolution" else "generate", factor=float(factor_value or 4.0))
            updates = [preset_text(config, f) for f in ("iters", "max_size", "seed")]
            for (m, field), (opt, _c) in options.items():
                if m != method_name:
                    updates.append(gr.skip())
                elif opt.type is bool:
                    updates.append(bool(getattr(config, field)))
                elif opt.choices:
                    updates.append(getattr(config, field))
                else:
                    updates.append(preset_text(config, field))
            return updates

        preset_outputs = [iters, max_size, seed, *[c for _, c in option_items]]
        for comp in (preset, task, factor):
            comp.change(_guard(on_preset), [method, preset, task, factor], preset_outputs, show_progress="hidden")
        method.change(
            _guard(on_method), method,
            [preset, usage, task, factor, iters, max_size, seed, *extra.values(), *[c for _, c in option_items], other],
        ).then(_guard(on_preset), [method, preset, task, factor], preset_outputs, show_progress="hidden")

        def settings(method_name, preset_name, task_value, factor_value, iters_value, max_size_value, seed_value, other_text, *option_values):
            values = {"iters": iters_value, "max_size": max_size_value, "seed": seed_value}
            info = methods[method_name]
            values = {k: v for k, v in values.items() if k in info.common}
            for ((m, field), _oc), v in zip(options.items(), option_values):
                if m == method_name:
                    values[field] = v
            return build_config(method_name, preset_name, task="sr" if task_value == "super-resolution" else "generate", factor=float(factor_value or 4.0), values=values, other=other_text)

        settings_inputs = [method, preset, task, factor, iters, max_size, seed, other, *[c for _, c in option_items]]

        checked: dict[tuple, tuple[int, int]] = {}

        def upload_size(path: str) -> tuple[int, int]:
            """validate_upload, remembered per file version (the estimate follows every keystroke)."""
            st = Path(path).stat()
            key = (path, st.st_size, st.st_mtime_ns)
            if key not in checked:
                if len(checked) > 32:
                    checked.clear()
                checked[key] = validate_upload(path, limits)
            return checked[key]

        def on_settings(image_path, *args):
            if not image_path:
                return "Upload an image (or pick the bundled example) to see the estimated training time."
            try:
                size = upload_size(image_path)
                config, _ = settings(*args)
            except (ValueError, TypeError, SinkitError) as err:
                return f"**Settings problem**: {html.escape(str(err))}"
            return estimate(store, args[0], config, size).text()

        for comp in [image, *settings_inputs]:
            comp.change(on_settings, [image, *settings_inputs], estimate_md, show_progress="hidden")

        def on_calibrate(image_path, *args):
            size = validate_upload(image_path, limits)
            config, _ = settings(*args)
            gr.Info("calibrating: training a few iterations...")
            return calibrate(store, args[0], config, {methods[args[0]].inputs[0].name: image_path}, size, device=store.device, threads=calibration_threads).text()

        estimate_btn.click(_guard(on_calibrate), [image, *settings_inputs], estimate_md, concurrency_limit=1)

        def on_start(image_path, name_text, *args):
            from ..core.io import load_image, save_image

            size = validate_upload(image_path, limits)
            method_name = args[0]
            info = methods[method_name]
            extra_values = args[len(settings_inputs):]
            config, overrides = settings(*args[: len(settings_inputs)])
            files = {info.inputs[0].name: image_path}
            for (input_name, _comp), value in zip(extra.items(), extra_values):
                if input_name in {s.name for s in info.inputs[1:]} and value:
                    validate_upload(value, limits, input_name)
                    files[input_name] = value
            for spec in info.inputs[1:]:
                if spec.required and spec.name not in files:
                    raise ValueError(f"{method_name} needs the training input '{spec.name}' ({spec.help}): upload it")
            name = store.new_name(name_text.strip() if name_text and name_text.strip() else Path(image_path).stem)
            run_dir = store.run_dir(name)
            (run_dir / "inputs").mkdir(parents=True, exist_ok=False)
            stored = {}
            try:
                for input_name, path in files.items():
                    spec = next(s for s in info.inputs if s.name == input_name)
                    if spec.kind == "mask":
                        from ..core.io import load_mask

                        tensor = load_mask(path).expand(-1, 3, -1, -1) * 2 - 1
                    else:
                        tensor = load_image(path)
                    stored[input_name] = save_image(tensor, run_dir / "inputs" / f"{input_name}.png")
            except BaseException:
                shutil.rmtree(run_dir, ignore_errors=True)  # no half-made run keeps the name
                raise
            task_name = "sr" if args[2] == "super-resolution" else "generate"
            from ..core.config import config_to_dict

            job = {
                "name": name,
                "method": method_name,
                "preset": args[1],
                "task": task_name,
                "factor": float(args[3] or 4.0),
                "config": config_to_dict(config),
                "overrides": overrides,
                "inputs": {k: str(Path("inputs") / p.name) for k, p in stored.items()},
                "image_size": list(size),
                "estimate": estimate(store, method_name, config, size).seconds,
                "created": time.time(),
                "device": store.device,
                "status": "created",
                "command": cli_command(run_dir, method_name, args[1], stored, task=task_name, factor=float(args[3] or 4.0), overrides=overrides),
            }
            store.write_job(name, job)
            queue.submit(name)
            gr.Info(f"run '{name}' queued")
            return gr.update(choices=store.names(), value=name), gr.Tabs(selected="progress")

        start_btn.click(_guard(on_start), [image, run_name, *settings_inputs, *extra.values()], [run, tabs], concurrency_limit=4)

        # ====================================================================== selected run: status, progress
        def status_text(name: str) -> str:
            if not name:
                return "No run selected."
            try:
                s = store.summary(name)
            except ValueError as err:
                return html.escape(str(err))
            job = store.job(name) or {}
            bits = [f"**{html.escape(s.name)}**", html.escape(s.method or "?")]
            if s.preset:
                bits.append(f"preset {html.escape(s.preset)}")
            state = s.status
            if state == "running" and job.get("started_at"):
                state += f" for {format_seconds(time.time() - job['started_at'])}"
            bits.append(f"status: **{state}**")
            if s.train_seconds:
                bits.append(f"trained {format_seconds(s.train_seconds)}")
            text = " · ".join(bits)
            if job.get("error") and s.status in RESUMABLE:
                text += f"\n\n{html.escape(str(job['error']))}"
            return text

        def progress_view(name: str) -> str:
            if not name:
                return "<p>Start a run in <b>New run</b>, or select one above.</p>"
            job = store.job(name) or {}
            prog = store.progress(name) or {}
            model = None
            try:
                if store.has_model(name):
                    model = store.model(name)
            except (ValueError, SinkitError):
                model = None
            iters_cfg = (job.get("config") or {}).get("iters") or (getattr(model, "config", None) and getattr(model.config, "iters", None))
            whole = overall(prog, model, iters_cfg)
            state = job.get("status") or ("done" if model is not None and model.complete else "interrupted")
            lines = []
            if state == "running" and not prog:
                lines.append("<p>Starting the training worker (loading torch and the image)...</p>")
            elif state in ACTIVE and prog.get("state") == "running":
                frac = whole["fraction"]
                if frac is not None:
                    lines.append(f'<div class="bar"><div class="fill" style="width:{100 * frac:.1f}%"></div></div><p><b>{100 * frac:.0f} %</b> of the {"run" if whole["scope"] == "run" else "current stage"}')
                    if whole["eta"] is not None:
                        lines[-1] += f" · about <b>{format_seconds(whole['eta'])}</b> left ({'whole run' if whole['scope'] == 'run' else 'this stage; later stages not known yet'})"
                    lines[-1] += "</p>"
                bars = prog.get("bars") or []
                if bars:
                    b = bars[-1]
                    rate = f" · {b['rate']:.2f} it/s" if b.get("rate") else ""
                    total = f"/{b['total']}" if b.get("total") else ""
                    lines.append(f"<p>Stage <b>{html.escape(b['desc'] or '?')}</b>: iteration {b['n']}{total}{rate}" + (f" · losses {html.escape(b['postfix'])}" if b.get("postfix") else "") + "</p>")
                elif state == "running":
                    lines.append("<p>Starting (loading the image, building the model)...</p>")
                if job.get("estimate"):
                    lines.append(f"<p>Estimated before starting: {format_seconds(job['estimate'])}; running for {format_seconds(time.time() - (job.get('started_at') or time.time()))}.</p>")
            elif state == "queued":
                lines.append("<p>Queued: waits for the running training to finish (one at a time).</p>")
            elif state == "done":
                secs = model.train_seconds if model is not None else 0
                lines.append(f"<p><b>Finished</b>{' in ' + format_seconds(secs) if secs else ''}. Use the tabs to sample and manipulate.</p>")
            elif state in RESUMABLE:
                lines.append(f"<p><b>{state.capitalize()}</b>: {html.escape(str(job.get('error') or 'stopped before the end'))}. "
                             "<b>Resume training</b> continues from the last checkpoint.</p>")
            done = prog.get("finished") or []
            if done:
                items = " · ".join(f"{html.escape(d['desc'])}: {format_seconds(d['elapsed'])}" for d in done[-12:])
                lines.append(f"<p style='font-size:90%'>Finished stages: {items}</p>")
            return "\n".join(lines) or "<p>No progress information for this run (made by the command line?).</p>"

        def scale_images(name: str) -> list[tuple[str, str]]:
            if not name:
                return []
            folder = store.run_dir(name) / "scales"
            if not folder.is_dir():
                return []
            levels = sorted(p for p in folder.iterdir() if p.is_dir())
            if not levels:
                return []
            last = levels[-1]
            items = [(str(f), f"scale {last.name}: {f.stem}") for f in sorted(last.glob("*.png"))]
            for level in reversed(levels[:-1]):
                f = level / "samples.png"
                if f.exists():
                    items.append((str(f), f"scale {level.name}: samples"))
            final = store.run_dir(name) / "samples.png"
            if final.exists():
                items.insert(0, (str(final), "final samples"))
            return items

        def command_text(name: str) -> str:
            if not name:
                return ""
            job = store.job(name) or {}
            run_dir = store.run_dir(name)
            lines = [f"**Run folder** `{_shown(run_dir)}`"]
            if job.get("command"):
                cmd = job["command"]
                lines.append("**Same training on the command line** (add `--resume` to continue it there):\n```\n" + cmd + "\n```")
            lines.append(f"**Use it from the command line**\n```\nsinkit sample {run_dir} --num 8\nsinkit info {run_dir}\n```")
            log = store.log_path(name)
            if log.exists():
                lines.append(f"Training log: `{_shown(log)}`")
            return "\n\n".join(lines)

        def table_rows() -> list[list[str]]:
            rows = []
            for n in store.names():
                try:
                    s = store.summary(n)
                except (ValueError, OSError):
                    continue
                rows.append([s.name, s.method, s.preset, s.status, format_seconds(s.train_seconds) if s.train_seconds else "", time.strftime("%Y-%m-%d %H:%M", time.localtime(s.created))])
            return rows

        def model_stamp(name: str) -> str:
            if not name:
                return ""
            try:
                path = store.run_dir(name) / "model.safetensors"
                return f"{name}:{path.stat().st_mtime_ns}" if path.exists() else f"{name}:none"
            except (ValueError, OSError):
                return ""

        def on_tick(name, state):
            state = dict(state or {})
            names = store.names()
            run_update = gr.skip()
            if names != state.get("names"):
                state["names"] = names
                run_update = gr.update(choices=names, value=name if name in names else (names[0] if names else None))
            rows = table_rows()
            table_update = gr.skip()
            if rows != state.get("rows"):
                state["rows"] = rows
                table_update = rows
            gallery = scale_images(name)
            sig = [(p, Path(p).stat().st_mtime_ns if Path(p).exists() else 0) for p, _ in gallery]
            gallery_update = gr.skip()
            if sig != state.get("gallery") or name != state.get("gallery_run"):
                state["gallery"], state["gallery_run"] = sig, name
                gallery_update = gallery
            st = model_stamp(name)
            if st != state.get("stamp"):  # a new checkpoint: what the model can do may have changed
                state["stamp"] = st
                *caps, state = caps_updates(name, state, False)
            else:
                caps = [gr.skip()] * (len(caps_outputs) - 1)
            return [status_text(name), progress_view(name), gallery_update, table_update, run_update, *caps, state]

        def on_cancel(name):
            if not name:
                raise ValueError("select a run first")
            gr.Info(queue.cancel(name))
            return status_text(name)

        def on_resume(name):
            if not name:
                raise ValueError("select a run first")
            queue.resume(name, device=store.device)
            gr.Info(f"run '{name}' queued to resume from its last checkpoint")
            return status_text(name), gr.Tabs(selected="progress")

        cancel_btn.click(_guard(on_cancel), run, status)
        resume_btn.click(_guard(on_resume), run, [status, tabs])

        def on_table_select(evt: gr.SelectData):
            row = evt.row_value if hasattr(evt, "row_value") else None
            if row:
                return gr.update(value=row[0])
            return gr.skip()

        runs_table.select(_guard(on_table_select), None, run)

        # ====================================================================== capabilities of the selected run
        def caps_updates(name: str, state: dict, force: bool):
            state = dict(state or {})
            feats = None
            try:
                if name and store.has_model(name):
                    feats = actions.features(store.model(name))
            except (ValueError, SinkitError) as err:
                gr.Warning(str(err))
            f = feats or {}
            tabs_vis = [
                gr.update(visible=bool(f.get("sample"))),
                gr.update(visible=bool(f.get("inject"))),
                gr.update(visible=bool(f.get("inject"))),
                gr.update(visible=bool(f.get("inject"))),
                gr.update(visible=bool(f.get("upscale"))),
                gr.update(visible=bool(f.get("animate"))),
                gr.update(visible=bool(f.get("translate"))),
            ]
            scales = f.get("injection_scales") or []
            n = max(1, int(f.get("num_scales") or 1))
            paint_default = str(scales[0]) if scales else None
            edit_default = str(scales[min(1, len(scales) - 1)]) if scales else None
            inject_default = str(scales[len(scales) // 2]) if scales else None
            radius = (f.get("mask_dilation") or {}).get("edit")
            others = [
                gr.update(maximum=max(1, n - 1), value=0, visible=bool(f.get("pyramid")), interactive=n > 1),
                gr.update(choices=_scale_choices(scales), value=paint_default),
                gr.update(choices=_scale_choices(scales), value=edit_default),
                gr.update(value=radius if radius is not None else 10),
                gr.update(choices=_scale_choices(scales), value=inject_default),
                gr.update(maximum=max(1, n - 1), value=0, interactive=n > 1),
                "This method is deterministic: every sample equals the reconstruction." if feats and f.get("sample") and not f.get("stochastic") else "",
            ]
            editors = [gr.skip()] * 4
            # the canvases hold the training image at the model's output size: reload them for another
            # run, or when a training run grew a finer scale (never while the user draws on a finished one)
            key = [name, list(f.get("output_size") or [])]
            if feats and (force or state.get("editors_for") != key):
                model = store.model(name)
                from ..core.io import to_pil

                bg = to_pil(model.training_image()) if f.get("inject") else None
                cond = actions.default_condition(model)
                editors = [
                    {"background": bg, "layers": [], "composite": None} if bg is not None else gr.skip(),
                    {"background": bg, "layers": [], "composite": None} if bg is not None else gr.skip(),
                    {"background": bg, "layers": [], "composite": None} if bg is not None else gr.skip(),
                    {"background": to_pil(cond), "layers": [], "composite": None} if cond is not None else gr.skip(),
                ]
                state["editors_for"] = key
            return [*tabs_vis, *others, *editors, state]

        caps_outputs = [*cap_tabs, start_scale, paint_scale, edit_scale, dilation, inject_scale, anim_start, sample_note, paint_editor, edit_input, mask_editor, cond_editor, session]

        def on_select(name, state):
            return [status_text(name), progress_view(name), command_text(name), *caps_updates(name, state, True)]

        run.change(_guard(on_select), [run, session], [status, progress_html, command_md, *caps_outputs])
        timer.tick(
            _guard(on_tick), [run, session],
            [status, progress_html, scale_gallery, runs_table, run, *caps_outputs],
            show_progress="hidden", queue=True,
        )
        demo.load(_guard(on_select), [run, session], [status, progress_html, command_md, *caps_outputs])

        def on_edit_task(task_name, name):
            try:
                model = store.model(name) if name else None
            except (ValueError, SinkitError):
                model = None
            radius = (getattr(model, "mask_dilation", None) or {}).get(task_name)
            return gr.update(value=radius if radius is not None else 10)

        edit_task.change(_guard(on_edit_task), [edit_task, run], dilation)

        # ====================================================================== sample
        def on_sample(name, n, s, start, sh, sv):
            model = ready_model(name)
            folder = out_dir(name, "samples")
            files, sheet = actions.draw_samples(model, folder, num=int(n), seed=int(s or 0), start_scale=int(start or 0), scale_h=float(sh), scale_v=float(sv))
            archive = actions.zip_files([*files, sheet], folder / "samples.zip")
            note = f"{len(files)} samples of {_size(files[0])} px in `{_shown(folder)}`"
            return [(str(f), f.stem) for f in files], str(archive), note

        sample_btn.click(_guard(on_sample), [run, num, sample_seed, start_scale, scale_h, scale_v], [samples, samples_zip, sample_note])

        # ====================================================================== paint
        def load_training(name):
            from ..core.io import to_pil

            model = model_of(name)
            return {"background": to_pil(model.training_image()), "layers": [], "composite": None}

        def blank(name):
            import numpy as np

            model = model_of(name)
            h, w = model.output_size()
            return {"background": np.full((h, w, 4), 255, np.uint8), "layers": [], "composite": None}

        paint_reset.click(_guard(load_training), run, paint_editor)
        paint_blank.click(_guard(blank), run, paint_editor)

        def on_paint(name, value, scale, q, k, s):
            model = ready_model(name)
            if not scale:
                raise ValueError("choose an injection scale")
            result, notes = actions.paint(model, actions.editor_image(value), scale, out_dir(name, "paint"), quantize=bool(q), k=int(k), seed=int(s or 0))
            return str(result), _notify(notes)

        paint_btn.click(_guard(on_paint), [run, paint_editor, paint_scale, quantize, k_colors, paint_seed], [paint_out, paint_note])

        # ====================================================================== edit / harmonize
        edit_reset.click(_guard(load_training), run, edit_input)

        def copy_to_mask(value):
            if not value or (value.get("composite") is None and value.get("background") is None):
                raise ValueError("the image canvas is empty")
            picture = value.get("composite") if value.get("composite") is not None else value.get("background")
            return {"background": picture, "layers": [], "composite": None}

        to_mask.click(_guard(copy_to_mask), edit_input, mask_editor)

        def on_edit(name, value, mask_value, task_name, scale, radius, s):
            model = ready_model(name)
            if not scale:
                raise ValueError("choose an injection scale")
            image_t = actions.editor_image(value)
            mask_t = actions.editor_mask(mask_value)
            files, notes = actions.blend(model, task_name, image_t, mask_t, scale, out_dir(name, task_name), dilation=int(radius), seed=int(s or 0))
            strip = files.get("sweep") or files.get("comparison")
            return str(files["blended"]), str(files["raw"]), str(files["mask"]), str(strip), _notify(notes)

        edit_btn.click(_guard(on_edit), [run, edit_input, mask_editor, edit_task, edit_scale, dilation, edit_seed], [edit_out, edit_raw, edit_mask_used, edit_strip, edit_note])

        # ====================================================================== inject / sweep
        def on_inject(name, path, scale, keep, s):
            model = ready_model(name)
            if not scale:
                raise ValueError("choose an injection scale")
            if path:
                validate_upload(path, limits)
                image_t = actions.to_tensor(path)
            else:
                image_t = model.training_image()
            result, notes = actions.transfer(model, image_t, scale, out_dir(name, "inject"), keep_shape=bool(keep), seed=int(s or 0))
            return str(result), _notify(notes)

        inject_btn.click(_guard(on_inject), [run, inject_image, inject_scale, keep_shape, inject_seed], [inject_out, inject_note])

        # ====================================================================== super-resolution
        def on_sr(name, path, f, noise, s):
            model = ready_model(name)
            image_t = None
            if path:
                validate_upload(path, limits)
                image_t = actions.to_tensor(path)
            files, notes = actions.super_resolve(model, image_t, float(f), out_dir(name, "upscale"), noise=noise, seed=int(s or 0))
            return str(files["comparison"]), str(files["result"]), _notify(notes)

        sr_btn.click(_guard(on_sr), [run, sr_image, sr_factor, sr_noise, sr_seed], [sr_out, sr_file, sr_note])

        # ====================================================================== animate
        def on_animate(name, start, n_frames, rate, b, a, fmt_value, s):
            model = ready_model(name)
            files, notes = actions.animate(model, out_dir(name, "animate"), start_scale=int(start), frames=int(n_frames), fps=float(rate), alpha=float(a), beta=float(b), seed=int(s or 0), fmt=fmt_value)
            clip = files["clip"]
            is_gif = clip.suffix == ".gif"
            return (
                gr.update(value=str(clip) if is_gif else None, visible=is_gif),
                gr.update(value=None if is_gif else str(clip), visible=not is_gif),
                str(files["frames"]),
                _notify(notes),
            )

        anim_btn.click(_guard(on_animate), [run, anim_start, frames, fps, beta, alpha, fmt, anim_seed], [anim_gif, anim_mp4, anim_frames, anim_note])

        # ====================================================================== translate
        def load_condition(name):
            from ..core.io import to_pil

            cond = actions.default_condition(model_of(name))
            if cond is None:
                raise ValueError("this model stores no training primitive: upload one into the canvas")
            return {"background": to_pil(cond), "layers": [], "composite": None}

        cond_reset.click(_guard(load_condition), run, cond_editor)

        def on_translate(name, value, s):
            model = ready_model(name)
            files, _ = actions.translate(model, actions.editor_image(value), out_dir(name, "translate"), seed=int(s or 0))
            return str(files["result"]), str(files["comparison"])

        tr_btn.click(_guard(on_translate), [run, cond_editor, tr_seed], [tr_out, tr_strip])

    return demo


def _size(path: Path) -> str:
    from PIL import Image

    with Image.open(path) as im:
        return f"{im.height}x{im.width}"
