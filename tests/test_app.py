"""The browser app's machinery without a browser (and without Gradio): run names and the runs folder,
configs built as `sinkit train` builds them, the training queue in worker processes (train, cancel,
resume, CLI compatibility), live progress, estimates, and every page action on a tiny model."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import shlex
import time
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn as nn
from click.testing import CliRunner
from PIL import Image

import sinkit
from sinkit.app import actions
from sinkit.app.actions import Limits, validate_upload
from sinkit.app.estimate import cached_calibration, calibrate, estimate, from_history
from sinkit.app.jobs import JobQueue
from sinkit.app.methods import build_config, catalogue, cli_command
from sinkit.app.progress import ProgressWriter, format_seconds, overall
from sinkit.app.runs import RunStore, sanitize_name
from sinkit.cli.main import cli
from sinkit.core.capabilities import Translator
from sinkit.core.config import config_to_dict
from sinkit.core.errors import CapabilityError
from sinkit.core.model import InputSpec, SingleImageModel
from sinkit.core.registry import register_method
from sinkit.singan import PRESETS

APP = Path(sinkit.__file__).parent / "app"


# ----------------------------------------------------------------------------- names and the runs folder
@pytest.mark.parametrize("bad", ["", "..", ".", "../x", "a/b", "/etc/passwd", ".hidden", "x y", "a\\b", "x\x00", "é", "n" * 65])
def test_run_dir_refuses_anything_but_a_plain_name(tmp_path, bad):
    store = RunStore(tmp_path / "runs")
    with pytest.raises(ValueError, match="not a run name"):
        store.run_dir(bad)


def test_new_names_are_sanitised_unique_and_inside_the_folder(tmp_path):
    store = RunStore(tmp_path / "runs")
    assert sanitize_name("../../etc/passwd") == "etc-passwd"
    assert sanitize_name("My photo (1)") == "My-photo-1"
    with pytest.raises(ValueError, match="no letters or digits"):
        sanitize_name("../..")
    first = store.new_name("../../photo")
    store.run_dir(first).mkdir()
    second = store.new_name("../../photo")
    assert (first, second) == ("photo", "photo-2")
    assert store.run_dir(second).parent == store.root


# ----------------------------------------------------------------------------- configs as `sinkit train` builds them
def test_build_config_applies_page_values_and_set_lines():
    config, overrides = build_config("singan", "fast", values={"iters": "20", "max_size": 48.0, "seed": "", "noise_padding": True}, other="d_steps=2; lr_g=1e-4\ng_steps=2")
    assert (config.iters, config.max_size, config.d_steps, config.g_steps, config.noise_padding) == (20, 48, 2, 2, True)
    assert config.lr_g == pytest.approx(1e-4) and isinstance(config.lr_g, float)
    assert config.seed == PRESETS["fast"].seed and "seed" not in overrides
    assert overrides == {"iters": 20, "max_size": 48, "d_steps": 2, "g_steps": 2, "lr_g": 1e-4, "noise_padding": True}
    sr, sr_over = build_config("singan", "fast", task="sr", factor=4)
    assert sr.sr_factor == 4.0 and sr_over == {}
    with pytest.raises(ValueError, match="no field 'nope'"):
        build_config("singan", "fast", other="nope=1")
    with pytest.raises(ValueError, match="iters expects int"):
        build_config("singan", "fast", values={"iters": "2.5"})
    with pytest.raises(ValueError, match="unknown preset"):
        build_config("singan", "nope")


def test_the_equivalent_command_line_builds_the_same_config(tmp_path, monkeypatch):
    """The command the page shows, run through the real CLI, reaches fit() with the page's config."""
    config, overrides = build_config("singan", "fast", values={"iters": "7", "max_size": "40"}, other="betas=[0.4, 0.9]")
    image = tmp_path / "in.png"
    sinkit.save_image(torch.zeros(1, 3, 30, 40), image)
    command = cli_command(tmp_path / "run", "singan", "fast", {"image": image}, overrides=overrides)
    seen = {}

    class Stop(Exception):
        pass

    def fake_fit(cls, inputs, config, **kwargs):
        seen["config"] = config
        raise Stop

    monkeypatch.setattr(sinkit.SinGAN, "fit", classmethod(fake_fit))
    args = shlex.split(command)
    assert args[:2] == ["sinkit", "train"]
    result = CliRunner().invoke(cli, args[1:] + ["--samples", "0"])
    assert isinstance(result.exception, Stop), result.output
    assert seen["config"] == config


def test_catalogue_lists_every_method_with_its_controls():
    cat = catalogue()
    assert set(sinkit.available_methods()) == set(cat)
    info = cat["singan"]
    assert "paper" in info.presets and info.can_sr and set(info.common) == {"iters", "max_size", "seed"}
    assert "sample" in info.capabilities and [s.name for s in info.inputs] == ["image"]
    assert cat["app-toy"].inputs[1].name == "primitive" and cat["app-toy"].capabilities == ("translate",)


def test_no_method_is_named_in_the_app():
    """The page enumerates methods through the registry: no module of sinkit.app names one."""
    names = [m for m in sinkit.available_methods() if not m.startswith(("app-", "toy"))]
    for f in APP.glob("*.py"):
        text = f.read_text().lower()
        for name in names:
            assert not re.search(rf"\b{re.escape(name)}\b", text), f"{f.name} names the method {name}"


# ----------------------------------------------------------------------------- uploads and canvases
def test_validate_upload_uses_the_library_checks(tmp_path):
    good = tmp_path / "good.png"
    Image.new("RGB", (40, 30), "red").save(good)
    assert validate_upload(str(good), Limits()) == (30, 40)
    text = tmp_path / "fake.png"
    text.write_text("not an image")
    with pytest.raises(ValueError, match="not an image file"):
        validate_upload(str(text), Limits())
    with pytest.raises(ValueError, match="megapixels, more than this app accepts"):
        validate_upload(str(good), Limits(max_pixels=1000))
    with pytest.raises(ValueError, match="upload a image first|upload an? "):
        validate_upload(None, Limits())


def test_canvas_image_and_mask():
    background = np.zeros((8, 10, 4), np.uint8)
    background[..., 3] = 255
    layer = np.zeros((8, 10, 4), np.uint8)
    layer[2:4, 3:7] = (255, 0, 255, 255)
    composite = background.copy()
    composite[2:4, 3:7] = (255, 0, 255, 255)
    value = {"background": background, "layers": [layer], "composite": composite}
    mask = actions.editor_mask(value)
    assert mask.shape == (1, 1, 8, 10) and mask.sum() == 8 and mask[0, 0, 2, 3] == 1
    image = actions.editor_image(value)
    assert image.shape == (1, 3, 8, 10) and image[0, 0, 2, 3] == 1 and image[0, 1, 2, 3] == -1
    with pytest.raises(ValueError, match="no mask drawn"):
        actions.editor_mask({"background": background, "layers": [np.zeros_like(layer)], "composite": background})
    with pytest.raises(ValueError, match="canvas is empty"):
        actions.editor_image(None)


# ----------------------------------------------------------------------------- actions on a tiny model
def test_actions_on_a_tiny_model(tiny_model, tmp_path):
    model, _ = tiny_model
    feats = actions.features(model)
    assert feats["sample"] and feats["inject"] and feats["pyramid"] and feats["animate"] and not feats["translate"]
    h, w = feats["output_size"]
    files, sheet = actions.draw_samples(model, tmp_path / "s", num=3, seed=1, start_scale=1, scale_h=1.5)
    assert len(files) == 3 and Image.open(files[0]).size == (round(w * 1.5), h) and sheet.exists()
    archive = actions.zip_files([*files, sheet], tmp_path / "s" / "all.zip")
    assert sorted(zipfile.ZipFile(archive).namelist()) == ["contact_sheet.png", "sample_000.png", "sample_001.png", "sample_002.png"]
    with pytest.raises(ValueError, match="start scale must be in"):
        actions.draw_samples(model, tmp_path / "s2", start_scale=9)

    mask = torch.zeros(1, 1, h, w)
    mask[..., h // 3 : h // 2, w // 3 : w // 2] = 1
    picture = model.training_image()
    result, notes = actions.blend(model, "edit", picture, mask, "2", tmp_path / "e", dilation=3)
    assert Image.open(result["blended"]).size == (w, h) and result["comparison"].exists() and result["mask"].exists()
    sweep, _ = actions.blend(model, "harmonize", picture, mask, "all", tmp_path / "h")
    assert sweep["sweep"].exists()
    with pytest.raises(ValueError, match="outside the valid range"):
        actions.blend(model, "edit", picture, mask, "0", tmp_path / "e0")  # the coarsest scale takes pure noise

    painted, notes = actions.paint(model, torch.zeros(1, 3, 20, 20), "all", tmp_path / "p")
    assert painted.name == "sweep.png" and any("resized" in n for n in notes)
    one, _ = actions.transfer(model, picture, 1, tmp_path / "t")
    assert Image.open(one).size == (w, h)
    sr, notes = actions.super_resolve(model, None, 2.0, tmp_path / "sr")
    assert Image.open(sr["result"]).size == (2 * w, 2 * h) and any("passes" in n for n in notes)
    clip, _ = actions.animate(model, tmp_path / "a", frames=4, fmt="gif")
    assert clip["clip"].suffix == ".gif" and Image.open(clip["clip"]).n_frames == 4
    with pytest.raises(CapabilityError, match="cannot translate"):
        actions.translate(model, picture, tmp_path / "x")


@dataclass(frozen=True)
class ToyConfig:
    seed: int = 0


@register_method("app-toy")
class AppToy(SingleImageModel, Translator):
    """A conditional model with a second input, written only for this test (the page must offer it a
    primitive upload and the Translate tab without knowing it)."""

    config_class = ToyConfig
    presets = {"paper": ToyConfig()}
    inputs = (InputSpec("image", "the target"), InputSpec("primitive", "edges"))
    usage = "app-toy models translate primitives."

    def __init__(self, config, inputs, info=None):
        super().__init__(config, inputs, info)
        self.net = nn.Conv2d(3, 3, 1)

    def translate(self, condition, *, generator=None):
        return torch.tanh(self.net(condition.to(self.device)))


def test_translator_actions_are_generic(tmp_path):
    model = AppToy(ToyConfig(), {"image": torch.zeros(1, 3, 8, 8), "primitive": torch.ones(1, 3, 8, 8)})
    feats = actions.features(model)
    assert feats["translate"] and not feats["sample"] and not feats["inject"]
    condition = actions.default_condition(model)
    assert torch.equal(condition, model.primitive)
    files, _ = actions.translate(model, condition, tmp_path)
    assert Image.open(files["result"]).size == (8, 8) and files["primitive"].exists()
    with pytest.raises(CapabilityError, match="app-toy models cannot draw random samples"):
        actions.draw_samples(model, tmp_path / "s")


# ----------------------------------------------------------------------------- progress
def test_progress_writer_reports_any_progress_bar(tmp_path):
    from tqdm.auto import tqdm

    path = tmp_path / "progress.json"
    writer = ProgressWriter(path, interval=0.05).start()
    bar = tqdm(range(30), desc="scale 0/1 8x8", file=open(tmp_path / "log", "w"), mininterval=0)
    for i in bar:
        if i == 10:
            bar.set_postfix(rec="0.5", refresh=False)
        if i == 20:
            writer.write()
            live = json.loads(path.read_text())["bars"]
            assert live[-1]["desc"] == "scale 0/1 8x8" and live[-1]["total"] == 30 and live[-1]["n"] >= 10 and "rec=0.5" in live[-1]["postfix"]
    bar.close()
    writer.finish("done", seconds=1.0)
    data = json.loads(path.read_text())
    assert data["state"] == "done" and data["bars"] == [] and data["finished"][-1]["n"] == 30


def test_overall_progress_of_a_pyramid(tiny_model):
    model, _ = tiny_model
    partial = copy.deepcopy(model)
    partial.scales = nn.ModuleList(list(partial.scales)[:1])  # an interrupted run: one scale trained
    bar = {"desc": "scale 1/2", "n": 20, "total": 40, "rate": 10.0, "elapsed": 2.0, "postfix": ""}
    whole = overall({"bars": [bar]}, partial, iters=40)
    work = np.cumsum([h * w for h, w in model.sizes])
    assert whole["scope"] == "run"
    assert whole["fraction"] == pytest.approx((work[0] + work[1] / 2) / work.sum())
    assert whole["eta"] == pytest.approx(2.0 + 40 * work[2] / (10.0 * work[1]))
    assert overall({"bars": [bar]}, None)["scope"] == "stage"
    phased = SimpleNamespace(info={"phases": [{"name": "prior (net A)", "iters": 100}, {"name": "joint", "iters": 300}]})
    joint = {"desc": "joint (2 phases)", "n": 100, "total": 300, "rate": 20.0, "elapsed": 5.0, "postfix": ""}
    prior = {"desc": "prior (net A) (2 phases)", "n": 50, "total": 100, "rate": 10.0, "elapsed": 5.0, "postfix": ""}
    assert overall({"bars": [prior]}, phased) == {"fraction": 0.125, "eta": 35.0, "scope": "run"}
    assert overall({"bars": [joint]}, phased) == {"fraction": 0.5, "eta": 10.0, "scope": "run"}
    assert overall(None)["fraction"] is None
    assert (format_seconds(75), format_seconds(5400), format_seconds(None)) == ("1 min 15 s", "1 h 30 min", "?")


# ----------------------------------------------------------------------------- the queue, end to end
def _tiny_job(store: RunStore, name: str, image: torch.Tensor, **changes) -> Path:
    config = replace(PRESETS["fast"], **{"max_size": 48, "iters": 10, "seed": 3, **changes})
    run_dir = store.run_dir(name)
    image_file = sinkit.save_image(image, run_dir / "inputs" / "image.png")
    store.write_job(name, {
        "name": name, "method": "singan", "preset": "fast", "config": config_to_dict(config),
        "inputs": {"image": "inputs/image.png"}, "created": time.time(), "device": "cpu", "status": "created",
        "command": cli_command(run_dir, "singan", "fast", {"image": image_file}),
    })
    return run_dir


@pytest.fixture(scope="module")
def trained_store(tmp_path_factory, tiny_image):
    """A runs folder where the queue trained one tiny run in a worker process."""
    store = RunStore(tmp_path_factory.mktemp("runs"), device="cpu")
    queue = JobQueue(store, poll=0.1, threads=1).start()
    try:
        _tiny_job(store, "tiny", tiny_image)
        queue.submit("tiny")
        assert queue.wait_idle(180)
    finally:
        queue.shutdown()
    return store


def test_queue_trains_a_normal_run_directory(trained_store):
    store = trained_store
    job = store.job("tiny")
    assert job["status"] == "done", job.get("error")
    progress = store.progress("tiny")
    assert progress["state"] == "done" and [b["desc"].split()[0] for b in progress["finished"]] == ["scale"] * 3
    run_dir = store.run_dir("tiny")
    assert (run_dir / "samples.png").exists() and (run_dir / "scales" / "02" / "samples.png").exists()
    # the command line uses it as any run
    result = CliRunner().invoke(cli, ["info", str(run_dir)])
    assert result.exit_code == 0 and "method        singan" in result.output
    summary = store.summary("tiny")
    assert (summary.status, summary.method, summary.has_model) == ("done", "singan", True) and summary.train_seconds > 0


def test_runs_made_by_the_cli_are_listed(trained_store, tiny_model, tmp_path):
    model, _ = tiny_model
    store = RunStore(tmp_path / "runs")
    model.save(store.root / "from-cli")
    (store.root / "not-a-run").mkdir()
    assert store.names() == ["from-cli"]
    assert store.summary("from-cli").status == "done (CLI)"


def test_estimates_from_history_and_calibration(trained_store, tiny_image):
    store = trained_store
    config = config_from_job(store, "tiny")
    seconds = store.summary("tiny").train_seconds
    same = estimate(store, "singan", config, (32, 48))
    assert same.exact and same.seconds == pytest.approx(seconds) and "from run 'tiny'" in same.how
    doubled = from_history(store, "singan", replace(config, iters=20), (32, 48))
    assert doubled.seconds == pytest.approx(2 * seconds) and not doubled.exact
    assert from_history(store, "singan", replace(config, d_steps=3), (32, 48)) is None  # other settings: not comparable
    image = store.run_dir("tiny") / "inputs" / "image.png"
    other = replace(config, d_steps=2)
    found = calibrate(store, "singan", other, {"image": image}, (32, 48), device="cpu", threads=1)
    assert found.seconds > 0 and "calibration" in found.how and "10 iterations" in found.how
    assert cached_calibration(store, "singan", other, (32, 48)).seconds == pytest.approx(found.seconds)
    assert estimate(store, "singan", other, (32, 48)).seconds == pytest.approx(found.seconds)


def config_from_job(store, name):
    from sinkit.core.config import config_from_dict

    return config_from_dict(sinkit.SinGANConfig, store.job(name)["config"])


def test_cancel_then_resume_continues_from_the_checkpoint(tmp_path, tiny_image):
    store = RunStore(tmp_path / "runs", device="cpu")
    queue = JobQueue(store, poll=0.1, threads=1).start()
    try:
        run_dir = _tiny_job(store, "slow", tiny_image, iters=60)
        queue.submit("slow")
        deadline = time.time() + 120
        while not (run_dir / "model.safetensors").exists() and time.time() < deadline:
            time.sleep(0.1)
        assert "cancelling slow" in queue.cancel("slow")
        while queue.running():
            time.sleep(0.1)
        assert store.job("slow")["status"] == "cancelled"
        partial = sinkit.load(run_dir, device="cpu")
        assert not partial.complete and partial.num_scales >= 1
        with pytest.raises(ValueError, match="not queued or running"):
            queue.cancel("slow")
        queue.resume("slow")
        with pytest.raises(ValueError, match="already queued|already running"):
            queue.resume("slow")
        assert queue.wait_idle(180)
        assert store.job("slow")["status"] == "done"
        assert "[resumed]" in store.log_path("slow").read_text()
        assert sinkit.load(run_dir, device="cpu").complete
    finally:
        queue.shutdown()


def test_a_run_interrupted_on_the_command_line_resumes_in_the_page(tmp_path, tiny_image):
    """Runs made by `sinkit train --out` in the folder are listed and resumable (config and image from the checkpoint)."""
    store = RunStore(tmp_path / "runs", device="cpu")
    config = replace(PRESETS["fast"], max_size=48, iters=10, seed=3)
    sinkit.SinGAN.fit(tiny_image, config, out_dir=store.root / "cli-run", device="cpu", progress=False, stop_after=1)
    assert store.summary("cli-run").status == "interrupted (CLI)"
    queue = JobQueue(store, poll=0.1, threads=1).start()
    try:
        queue.resume("cli-run")
        assert queue.wait_idle(120)
        assert store.job("cli-run")["status"] == "done", store.job("cli-run").get("error")
        model = sinkit.load(store.root / "cli-run", device="cpu")
        assert model.complete and model.config == config
    finally:
        queue.shutdown()


def test_a_failing_run_reports_its_error(tmp_path, tiny_image):
    store = RunStore(tmp_path / "runs", device="cpu")
    queue = JobQueue(store, poll=0.1, threads=1).start()
    try:
        run_dir = _tiny_job(store, "broken", tiny_image)
        (run_dir / "inputs" / "image.png").unlink()
        queue.submit("broken")
        assert queue.wait_idle(120)
        job = store.job("broken")
        assert job["status"] == "failed" and "image file not found" in job["error"]
    finally:
        queue.shutdown()


# ----------------------------------------------------------------------------- the command
def test_sinkit_app_without_gradio_says_how_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name.startswith("gradio") else real(name, *a))
    result = CliRunner().invoke(cli, ["app", "--runs", "/nonexistent/never-created"])
    assert result.exit_code == 1 and "pip install 'sinkit[app]'" in result.output
    assert not Path("/nonexistent/never-created").exists()
