"""sinkit bench / sinkit eval on a tiny dataset: outputs, resumption, settings guard."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from sinkit.bench import BenchSettings, run_bench
from sinkit.bench.reports import write_reports
from sinkit.cli.main import cli



@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tinyset")
    g = torch.Generator().manual_seed(0)
    for name in ("2", "10"):  # natural order: 2 before 10
        base = torch.rand(3, 4, 5, generator=g)
        img = torch.nn.functional.interpolate(base[None], size=(32, 40), mode="bilinear", align_corners=False)[0]
        img = (img + 0.1 * torch.rand(3, 32, 40, generator=g)).clamp(0, 1)
        Image.fromarray((img.permute(1, 2, 0).numpy() * 255).astype("uint8")).save(folder / f"{name}.png")
    (folder / "notes.txt").write_text("not an image")
    (folder / "zz_broken.png").write_bytes(b"not a png")
    return folder


TINY = ["--set", "iters=2", "--set", "max_size=40", "--set", "min_size=20"]


def test_bench_writes_results_and_skips_finished_images(dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("SINKIT_OFFLINE", "1")
    out = tmp_path / "bench"
    result = CliRunner().invoke(
        cli,
        ["bench", str(dataset), "--out", str(out), "--samples", "2", "--start-scales", "N,1", "--quiet", "--device", "cpu", *TINY],
    )
    assert result.exit_code == 0, result.output
    assert "not computed: sifid64" in result.output
    assert "zz_broken.png: FAILED" in result.output  # logged, and the run went on
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [r["image"] for r in rows] == ["2", "10"]
    for r in rows:
        assert float(r["train_s"]) > 0 and float(r["peak_rss_mb"]) > 0
        assert int(r["num_scales"]) >= 2 and (r["height"], r["width"]) == ("32", "40")
        for label in ("N", "N-1"):
            assert 0 < float(r[f"diversity@{label}"]) and float(r[f"patch_swd@{label}"]) > 0
        assert float(r["rec_psnr"]) > 0 and "sifid64@N" not in r
    summary = (out / "summary.md").read_text()
    assert "| **diversity** (this run) | higher |" in summary
    assert "reported: SinGAN paper Tab. 1" in summary and "*0.35*" in summary
    assert "## Not computed here" in summary and "pt_inception-2015-12-05-6726825d.pth" in summary
    assert "## Failed (1; rerun the same command to retry them)" in summary
    assert "- `zz_broken` (zz_broken.png) on " in summary and ": ImageReadError: not an image file" in summary
    assert (out / "sheets" / "2.png").exists() and (out / "sheets" / "10.png").exists()
    assert (out / "metric_vs_time.png").exists()
    assert (out / "models" / "10" / "model.safetensors").exists()

    # second run: nothing is retrained, the reports are rewritten
    first = (out / "per_image" / "2.json").read_text()
    lines = []
    settings = BenchSettings(overrides={"iters": 2, "max_size": 40, "min_size": 20}, samples=2, start_scales=["N", "N-1"])
    run_bench(dataset, out, settings, device="cpu", progress=False, log=lines.append)
    assert sum("finished earlier, skipped" in line for line in lines) == 2
    assert not any("training" in line and "zz_broken" not in line for line in lines)
    assert (out / "per_image" / "2.json").read_text() == first

    # an image claimed by another live process is left to it
    (out / "per_image" / "2.json").unlink()
    (out / "per_image" / "2.lock").write_text("otherhost:1")
    lines.clear()
    run_bench(dataset, out, settings, device="cpu", progress=False, log=lines.append)
    assert any("2.png: being benchmarked by process otherhost:1" in line for line in lines)
    assert not (out / "per_image" / "2.json").exists()
    # a lock left by a dead process on this host is taken over (the checkpoint is complete: no retraining)
    import socket

    (out / "per_image" / "2.lock").write_text(f"{socket.gethostname()}:999999999")
    run_bench(dataset, out, settings, device="cpu", progress=False, log=lines.append)
    assert (out / "per_image" / "2.json").exists() and not (out / "per_image" / "2.lock").exists()

    # a config field added since the folder was written (absent from its bench.json) takes its default
    bench_json = json.loads((out / "bench.json").read_text())
    del bench_json["config"]["lr_d"]
    (out / "bench.json").write_text(json.dumps(bench_json))
    run_bench(dataset, out, settings, device="cpu", progress=False, log=lines.append)
    bench_json["config"]["lr_d"] = 0.123  # ... but a differing saved value is another benchmark
    (out / "bench.json").write_text(json.dumps(bench_json))
    with pytest.raises(ValueError, match="other settings"):
        run_bench(dataset, out, settings, device="cpu", progress=False, log=lines.append)
    bench_json["config"]["lr_d"] = 0.0005
    (out / "bench.json").write_text(json.dumps(bench_json))

    # other settings in the same folder would mix two benchmarks
    with pytest.raises(ValueError, match="other settings"):
        run_bench(dataset, out, BenchSettings(overrides={"iters": 3}, samples=2), device="cpu", progress=False, log=lines.append)

    # what the model says actually ran (Model.run_facts: e.g. PetsGAN's prior when the config said auto)
    assert "What ran" not in (out / "summary.md").read_text()  # SinGAN states none
    record = json.loads((out / "per_image" / "10.json").read_text())
    (out / "per_image" / "10.json").write_text(json.dumps({**record, "ran_prior": "augment"}))
    write_reports(out)
    assert "What ran (the model's own record, `ran_*` columns of results.csv): prior: augment." in (out / "summary.md").read_text()
    assert [r["ran_prior"] for r in csv.DictReader(open(out / "results.csv"))] == ["", "augment"]


def test_bench_records_and_reports_a_model_that_says_its_training_went_wrong(dataset, tmp_path, monkeypatch):
    from sinkit.bench.reports import write_comparison
    from sinkit.singan import SinGAN

    monkeypatch.setenv("SINKIT_OFFLINE", "1")
    out = tmp_path / "bench"
    settings = BenchSettings(overrides={"iters": 2, "max_size": 40, "min_size": 20}, samples=2, start_scales=["N"])
    # what PetsGAN says when its IR network diverged (Model.training_problems)
    monkeypatch.setattr(SinGAN, "training_problems", lambda self: ["diverged: the test says so"])
    run_bench(dataset, out, settings, device="cpu", progress=False, log=lambda line: None)
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [r["problems"] for r in rows] == ["diverged: the test says so"] * 2
    summary = (out / "summary.md").read_text()
    assert "## Training problems (2 of 2 runs; their samples are in every mean below)" in summary
    assert "- `10`: diverged: the test says so" in summary
    comparison = write_comparison(tmp_path, [out]).read_text()
    assert "- singan `2`: diverged: the test says so" in comparison
    record = json.loads((out / "per_image" / "2.json").read_text())
    (out / "per_image" / "2.json").write_text(json.dumps({k: v for k, v in record.items() if k != "problems"}))
    write_reports(out)
    assert "## Training problems (1 of 2 runs;" in (out / "summary.md").read_text()


def test_bench_rejects_unknown_method_and_scale(dataset, tmp_path):
    with pytest.raises(ValueError, match="unknown method"):
        run_bench(dataset, tmp_path / "x", BenchSettings(method="nope"), progress=False)
    with pytest.raises(ValueError, match="not a scale"):
        run_bench(dataset, tmp_path / "y", BenchSettings(start_scales=["top"]), progress=False)


def test_eval_scores_a_model_and_a_folder(dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("SINKIT_OFFLINE", "1")
    from sinkit.singan import SinGAN, PRESETS
    from dataclasses import replace

    from sinkit.core.io import load_image, save_image

    image = load_image(dataset / "2.png")
    model = SinGAN.train(image, replace(PRESETS["fast"], iters=2, max_size=40, min_size=20), out_dir=tmp_path / "m", progress=False, device="cpu")
    runner = CliRunner()
    result = runner.invoke(
        cli, ["eval", str(dataset / "2.png"), str(tmp_path / "m"), "--num", "3", "--metrics", "diversity,nn_patch,sifid64", "--json", str(tmp_path / "s.json")]
    )
    assert result.exit_code == 0, result.output
    assert "diversity" in result.output and "nn_patch" in result.output
    assert "sifid64    not computed" in result.output and "pt_inception" in result.output
    import json

    saved = json.loads((tmp_path / "s.json").read_text())
    assert set(saved) == {"diversity", "nn_patch"} and saved["diversity"] > 0
    samples = model.sample(2, generator=1)
    for i in range(2):
        save_image(samples[i : i + 1], tmp_path / "fake" / f"{i}.png")
    result = runner.invoke(cli, ["eval", str(dataset / "2.png"), str(tmp_path / "fake"), "--metrics", "patch_swd", "--reference", str(dataset / "2.png")])
    assert result.exit_code == 0, result.output
    assert "patch_swd" in result.output and "psnr" in result.output
    result = runner.invoke(cli, ["eval", str(dataset / "2.png"), str(tmp_path / "fake"), "--metrics", "fid"])
    assert result.exit_code != 0 and "unknown metric" in result.output


def test_bench_several_methods_write_one_folder_each_and_a_comparison(dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("SINKIT_OFFLINE", "1")
    out = tmp_path / "multi"
    result = CliRunner().invoke(
        cli,
        ["bench", str(dataset), "--out", str(out), "--method", "singan,sinir", "--samples", "2", "--start-scales", "N",
         "--limit", "1", "--quiet", "--device", "cpu", "--set", "max_size=40", "--set", "min_size=20", "--set", "iters=2"],
    )
    assert result.exit_code == 0, result.output
    for name in ("singan-fast", "sinir-fast"):
        assert (out / name / "per_image" / "2.json").exists() and (out / name / "summary.md").exists()
    table = (out / "comparison.md").read_text()
    assert "| singan | fast | `singan-fast/` | 1 | 0 |" in table and "| sinir | fast | `sinir-fast/` | 1 | 0 |" in table
    assert "patch_swd@N (lower)" in table
    result = CliRunner().invoke(cli, ["bench", str(dataset), "--out", str(out), "--report-only"])
    assert result.exit_code == 0 and "comparison.md" in result.output, result.output
