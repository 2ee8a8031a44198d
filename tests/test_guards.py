"""The guards that let good requests through: reduced decoding of large images, the memory estimate
and limit, incomplete models with --allow-incomplete, and the folders sinkit itself writes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import sinkit
from sinkit.cli.main import cli
from sinkit.core.io import DECODE_MARGIN, image_size, load_image
from sinkit.core.resources import ResourceLimitError, check_memory, memory_limit, parse_size
from sinkit.singan import PRESETS, SinGAN

MICRO = replace(PRESETS["fast"], max_size=48, min_size=20, scale_factor=0.8, iters=3, base_channels=8, max_channels=8)


@pytest.fixture(scope="module")
def big_files(tmp_path_factory):
    """A 1200x1600 photo as JPEG and PNG (the bundled one, upscaled)."""
    folder = tmp_path_factory.mktemp("big")
    img = Image.open(Path(sinkit.__path__[0]) / "data" / "rocket.jpg").convert("RGB").resize((1600, 1200), Image.BICUBIC)
    img.save(folder / "big.jpg", quality=92)
    img.save(folder / "big.png", compress_level=1)
    return folder


@pytest.mark.parametrize("name", ["big.jpg", "big.png"])
def test_large_images_are_decoded_at_reduced_size_and_barely_differ(big_files, name):
    path = big_files / name
    full = load_image(path)
    reduced = load_image(path, max_size=40)
    assert image_size(path) == (1200, 1600) == tuple(full.shape[-2:])
    assert DECODE_MARGIN * 40 <= max(reduced.shape[-2:]) < 2 * DECODE_MARGIN * 40
    assert abs(reduced.shape[-2] / reduced.shape[-1] - 0.75) < 0.01
    a, b = sinkit.resize(full, (30, 40)), sinkit.resize(reduced, (30, 40))
    assert float((a - b).abs().mean()) * 127.5 < 1.0  # grey levels of 255
    assert torch.equal(load_image(path, max_size=1000), full)  # small enough: decoded whole


def test_training_decodes_only_what_the_config_uses(big_files):
    model = SinGAN.train(str(big_files / "big.jpg"), MICRO, device="cpu", progress=False, stop_after=1)
    assert tuple(model.real.shape[-2:]) == (36, 48)


def test_memory_estimate_scales_with_size_and_batch(tiny_model):
    model, _ = tiny_model
    one = model.estimate_memory((100, 100))
    assert model.estimate_memory((200, 200)) == pytest.approx(4 * one, rel=0.01)
    assert model.estimate_memory((100, 100), batch=4, outputs=4) > 3.5 * one
    widest = max(m.out_channels for m in model.modules() if hasattr(m, "out_channels"))
    assert one >= 4 * 100 * 100 * widest * 5  # at least the ~5 live maps measured (docs/reliability.md)


def test_memory_limit_sources(monkeypatch):
    assert parse_size("2G") == 2 * 2**30 and parse_size("0") is None and parse_size(1024) == 1024
    with pytest.raises(ValueError, match="not a memory size"):
        parse_size("2 apples")
    monkeypatch.setenv("SINKIT_MAX_MEMORY", "3M")
    assert memory_limit() == (3 * 2**20, "SINKIT_MAX_MEMORY")
    assert memory_limit("off") == (None, "--max-memory")
    with pytest.raises(ResourceLimitError, match=r"^x would need about 4\.0 MiB of memory \(estimate\), above the limit of 3\.0 MiB \(SINKIT_MAX_MEMORY\); do less, or raise") as err:
        check_memory(4 * 2**20, "x", hint="do less")
    assert isinstance(err.value, MemoryError) and err.value.estimate == 4 * 2**20
    check_memory(4 * 2**20, "x", max_memory="0")  # no limit
    monkeypatch.delenv("SINKIT_MAX_MEMORY")
    limit, source = memory_limit()
    assert source == "the memory available now" and (limit is None or limit > 2**20)


def test_ordinary_requests_pass_the_default_guard(tiny_model, tmp_path):
    _, run = tiny_model
    r = CliRunner().invoke(cli, ["sample", str(run), "--num", "2", "--scale-h", "1.5", "--out", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output


def test_incomplete_models_need_allow_incomplete_and_get_a_warning(tiny_image, tmp_path):
    run = tmp_path / "partial"
    SinGAN.train(tiny_image, MICRO, out_dir=run, device="cpu", progress=False, stop_after=1)
    r = CliRunner().invoke(cli, ["info", str(run)])
    assert r.exit_code == 0 and "INCOMPLETE" in r.output and "1 of 5 trained" in r.output
    r = CliRunner().invoke(cli, ["sample", str(run), "--num", "2", "--out", str(tmp_path / "s"), "--allow-incomplete"])
    assert r.exit_code == 0, r.output
    assert r.stderr.startswith(f"warning: {run} is an INCOMPLETE model (training stopped at 1 of 5 scales): outputs are 20x30 px instead of 32x48")
    assert sinkit.load_image(tmp_path / "s" / "sample_000.png").shape[-2:] == (20, 30)


def test_eval_scores_the_folder_sample_writes(tiny_model, tiny_image, tmp_path, monkeypatch):
    monkeypatch.setenv("SINKIT_OFFLINE", "1")
    _, run = tiny_model
    samples = tmp_path / "samples"
    assert CliRunner().invoke(cli, ["sample", str(run), "--num", "3", "--out", str(samples)]).exit_code == 0
    assert (samples / "contact_sheet.png").exists()
    real = sinkit.save_image(tiny_image, tmp_path / "real.png")
    r = CliRunner().invoke(cli, ["eval", str(real), str(samples), "--metrics", "diversity,patch_swd"])
    assert r.exit_code == 0, r.output
    assert "(3 images of 32x48 px" in r.output  # the contact sheet is not a sample
