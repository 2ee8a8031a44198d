"""The command line as a user runs it, in a temporary directory."""

import re

from click.testing import CliRunner

import sinkit
from sinkit.cli.main import cli


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result


def test_train_sample_info(tmp_path, example_path):
    out = tmp_path / "run"
    r = run("train", example_path, "--out", out, "--preset", "fast", "--max-size", 40, "--iters", 3, "--quiet", "--samples", 2, "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert "checkpoint" in r.output and str(out.resolve()) in r.output
    assert (out / "model.safetensors").exists() and (out / "samples.png").exists()

    samples = tmp_path / "samples"
    r = run("sample", out, "--num", 3, "--out", samples, "--start-scale", "N-1", "--scale-h", 2.0, "--seed", 7)
    assert r.exit_code == 0, r.output
    assert len(list(samples.glob("sample_*.png"))) == 3 and (samples / "contact_sheet.png").exists()
    img = sinkit.load_image(samples / "sample_000.png")
    model = sinkit.load(out)
    assert img.shape[-1] == 2 * model.sizes[-1][1]

    r = run("info", out)
    assert r.exit_code == 0 and "noise_amp" in r.output and "training time" in r.output


def test_resume_flag_continues(tmp_path, example_path):
    out = tmp_path / "run"
    args = ("train", example_path, "--out", out, "--preset", "fast", "--max-size", 40, "--iters", 2, "--quiet", "--samples", 0)
    assert run(*args).exit_code == 0
    r = run(*args, "--resume")
    assert r.exit_code == 0 and "trained" in r.output


def test_bad_input_messages(tmp_path, example_path):
    r = CliRunner().invoke(cli, ["train", str(tmp_path / "missing.jpg"), "--out", str(tmp_path / "o")])
    assert r.exit_code != 0 and "missing.jpg" in r.output
    r = CliRunner().invoke(cli, ["train", example_path, "--out", str(tmp_path / "o"), "--set", "bogus=1"])
    assert r.exit_code != 0 and "bogus" in r.output
    r = CliRunner().invoke(cli, ["sample", str(tmp_path)])
    assert r.exit_code != 0 and "model.safetensors" in r.output


def test_help_shows_defaults_and_units():
    r = run("train", "--help")
    assert "px" in r.output and "--resume" in r.output
    r = run("sample", "--help")
    assert re.search(r"default:\s+0", r.output)


def test_deterministic_method_writes_a_reconstruction_not_identical_samples(tmp_path, example_path):
    out = tmp_path / "sinir"
    r = run("train", example_path, "--out", out, "--method", "sinir", "--preset", "fast", "--max-size", 40,
            "--iters", 2, "--set", "channels=8", "--quiet", "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert (out / "reconstruction.png").exists() and not (out / "samples.png").exists()
    assert "reconstruction" in r.output
