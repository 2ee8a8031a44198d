"""sinkit bench on a local Ray cluster started here: the same records and summary as one process,
and a worker killed mid-training is retried by Ray and resumes from its checkpoint."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time

import pytest
import torch
from PIL import Image

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]' (the dev extra includes it)")

from sinkit.bench import BenchSettings, run_bench, run_benchmarks  # noqa: E402
from sinkit.bench.ray_runner import RayOptions  # noqa: E402
from sinkit.cli.main import cli  # noqa: E402

TINY = {"iters": 2, "max_size": 40, "min_size": 20}
#: what legitimately differs between two runs of the same work: clocks, memory, where it ran
VOLATILE = re.compile(r"(_s$|_s@|_mb$|^host$|^finished_at$)")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tinyset")
    g = torch.Generator().manual_seed(0)
    for name in ("2", "10"):
        base = torch.rand(3, 4, 5, generator=g)
        img = torch.nn.functional.interpolate(base[None], size=(32, 40), mode="bilinear", align_corners=False)[0]
        img = (img + 0.1 * torch.rand(3, 32, 40, generator=g)).clamp(0, 1)
        Image.fromarray((img.permute(1, 2, 0).numpy() * 255).astype("uint8")).save(folder / f"{name}.png")
    (folder / "zz_broken.png").write_bytes(b"not a png")
    return folder


@pytest.fixture(scope="module")
def cluster():
    """A 2-CPU local Ray cluster for this module (about 5-10 s to start on the development machine)."""
    os.environ["SINKIT_OFFLINE"] = "1"  # no weight downloads from the driver (workers score what it allows)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def _stable(record: dict) -> dict:
    return {k: v for k, v in record.items() if not VOLATILE.search(k)}


def _summary_without_clocks(text: str) -> list[str]:
    kept = []
    for line in text.splitlines():
        if line.startswith(("Training time per image", "Elapsed from")) or "training time" in line or "peak process RSS" in line:
            continue
        if line.startswith("- `zz_broken"):  # failure line: its host and time differ
            line = line.split(",")[0] + line[line.index(": ") :]
        cells = line.split(" | ")
        if len(cells) == 9 and cells[0].startswith("| "):  # per-image row: drop train minutes and RSS
            del cells[4:6]
            line = " | ".join(cells)
        kept.append(line)
    return kept


def test_ray_bench_equals_the_single_process_bench(dataset, tmp_path, cluster):
    settings = BenchSettings(overrides=TINY, samples=2, start_scales=["N", "N-1"], seeds=[0, 1])
    local = run_bench(dataset, tmp_path / "local", settings, device="cpu", progress=False, log=lambda _: None)
    lines: list[str] = []
    folders = run_benchmarks(dataset, tmp_path / "ray", settings, ray=RayOptions(memory_per_task_gb=0.5), device="cpu", progress=False, log=lines.append)
    out = folders[0]
    assert any(line.startswith("6 runs: 0 finished earlier, 6 submitted as Ray tasks") for line in lines), lines
    names = sorted(p.name for p in (out / "per_image").glob("*.json"))
    assert names == ["10-seed0.json", "10-seed1.json", "2-seed0.json", "2-seed1.json"]
    for name in names:
        a = json.loads((local / "per_image" / name).read_text())
        b = json.loads((out / "per_image" / name).read_text())
        assert _stable(a) == _stable(b), name
        assert b["diversity@N"] > 0 and b["seed"] in (0, 1)
    # two seeds really are two trainings
    s0 = json.loads((out / "per_image" / "2-seed0.json").read_text())
    s1 = json.loads((out / "per_image" / "2-seed1.json").read_text())
    assert s0["rec_psnr"] != s1["rec_psnr"]
    summary_local = (local / "summary.md").read_text()
    summary_ray = (out / "summary.md").read_text()
    failed = summary_ray.split("## Failed (2; rerun the same command to retry them)")[1]  # the broken image, both seeds
    assert "- `zz_broken-seed0` (zz_broken.png) on " in failed and ": ImageReadError: not an image file" in failed
    assert _summary_without_clocks(summary_local) == _summary_without_clocks(summary_ray)
    assert (out / "sheets" / "2-seed1.png").exists() and (out / "models" / "10-seed0" / "model.safetensors").exists()
    assert not list(out.glob(".sinkit-driver-*")) and not list((out / "per_image").glob("*.lock"))

    # a rerun skips every finished run, and retries the failed image only
    lines.clear()
    run_benchmarks(dataset, tmp_path / "ray", settings, ray=RayOptions(memory_per_task_gb=0.5), device="cpu", progress=False, log=lines.append)
    assert any("4 finished earlier, 2 submitted" in line for line in lines), lines


def test_a_killed_worker_is_retried_and_resumes_from_its_checkpoint(dataset, tmp_path, cluster):
    # 12 iterations per scale: a few tenths of a second per scale, time enough to kill the worker mid-training
    settings = BenchSettings(overrides={**TINY, "iters": 12}, samples=2, start_scales=["N"])
    out = tmp_path / "killed"
    result: dict = {}

    def drive():
        try:
            run_benchmarks(dataset, out, settings, ray=RayOptions(memory_per_task_gb=0.5, max_retries=2), limit=1, device="cpu", progress=False, log=lambda _: None)
            result["ok"] = True
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            result["error"] = err

    driver = threading.Thread(target=drive)
    driver.start()
    # the first two scales are saved (checkpoint, then its images; samples.png last).  Two: a resumed
    # run rewrites the last trained scale's images (a kill may have left them partial), not older ones
    lock, first_done = out / "per_image" / "2.lock", out / "models" / "2" / "scales" / "01" / "samples.png"
    deadline = time.time() + 60
    while not (lock.exists() and first_done.exists()) and time.time() < deadline:
        time.sleep(0.01)
    assert first_done.exists(), "the task for image 2 never saved its second scale"
    pid = int(lock.read_text().split()[0].rpartition(":")[2])
    killed_at = time.time()
    last_scale_started = (out / "models" / "2" / "scales" / "03").exists()
    os.kill(pid, signal.SIGKILL)  # the worker process dies mid-training, as on a lost node
    driver.join(timeout=90)
    assert not driver.is_alive() and result.get("ok"), result
    record = json.loads((out / "per_image" / "2.json").read_text())
    assert record["num_scales"] == 4 and record["diversity@N"] > 0
    assert not last_scale_started, "the worker was killed after training, not during it"
    # resumed, not retrained: the first scale's images were written before the kill and never again
    first_scale = sorted((out / "models" / "2" / "scales" / "00").iterdir())
    assert first_scale and all(p.stat().st_mtime < killed_at for p in first_scale)
    assert "## Failed" not in (out / "summary.md").read_text()


def test_a_task_that_cannot_see_the_output_folder_says_so(dataset, tmp_path):
    from sinkit.bench import BenchTask
    from sinkit.bench.ray_runner import _task_body
    from sinkit.core.errors import SinkitError
    from sinkit.core.version import __version__

    task = BenchTask(str(tmp_path / "elsewhere"), str(dataset / "2.png"), "2")
    with pytest.raises(SinkitError, match="is not visible from node .*filesystem every node mounts"):
        _task_body(task, BenchSettings(), [], "cpu", "token", 1, __version__)
    with pytest.raises(SinkitError, match="install the same version everywhere"):
        _task_body(task, BenchSettings(), [], "cpu", "token", 1, "0.0.1")


def test_ray_cli_options(dataset, tmp_path):
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["bench", "--help"])
    for option in ("--ray", "--gpus-per-task", "--cpus-per-task", "--memory-per-task", "--seeds", "--max-retries"):
        assert option in result.output
    result = CliRunner().invoke(cli, ["bench", str(dataset), "--out", str(tmp_path / "x"), "--seeds", "0,a"])
    assert result.exit_code != 0 and "comma-separated integers" in result.output
    result = CliRunner().invoke(cli, ["bench", str(dataset), "--out", str(tmp_path / "y"), "--ray", "auto", "--device", "cuda", "--offline"])
    assert result.exit_code != 0 and "needs --gpus-per-task" in result.output
