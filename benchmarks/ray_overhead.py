"""What Ray costs on one machine: local-cluster start, task throughput, and the bench's per-run overhead.

Prints (and with --json writes):

* ``init_s``: ``ray.init(address="local", num_cpus=N)`` wall time (dashboard off and on);
* ``noop_tasks_per_s``: throughput of empty tasks (the scheduler alone, workers warm);
* ``first_task_s``: latency of a first task that imports torch and sinkit (a cold worker);
* the tiny bench (2 images of 32x40 px, 2 iterations per scale, 2 samples) in one process and
  through Ray on the same machine; the difference per run is the bench's Ray overhead
  (worker start-up, argument shipping, the driver's loop), to set against a real run's
  minutes (fast preset) or hours (paper preset).

    OMP_NUM_THREADS=1 python benchmarks/ray_overhead.py --cpus 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path


def tiny_dataset(folder: Path, n: int) -> Path:
    import torch
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    for i in range(n):
        base = torch.rand(3, 4, 5, generator=g)
        img = torch.nn.functional.interpolate(base[None], size=(32, 40), mode="bilinear", align_corners=False)[0]
        img = (img + 0.1 * torch.rand(3, 32, 40, generator=g)).clamp(0, 1)
        Image.fromarray((img.permute(1, 2, 0).numpy() * 255).astype("uint8")).save(folder / f"{i}.png")
    return folder


def _import_sinkit():
    import os

    import torch  # noqa: F401

    import sinkit.bench.harness  # noqa: F401

    return os.getpid()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local cluster")
    parser.add_argument("--images", type=int, default=4, help="images of the tiny bench")
    parser.add_argument("--noop", type=int, default=1000, help="empty tasks for the throughput figure")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    os.environ.setdefault("SINKIT_OFFLINE", "1")

    import ray
    import torch

    torch.set_num_threads(1)
    from sinkit.bench import BenchSettings, run_bench, run_benchmarks
    from sinkit.bench.ray_runner import RayOptions

    figures: dict = {"cpus": args.cpus, "ray": ray.__version__, "loadavg_before": open("/proc/loadavg").read().split()[:3]}
    for dashboard in (False, True):
        t0 = time.perf_counter()
        ray.init(address="local", num_cpus=args.cpus, include_dashboard=dashboard, log_to_driver=False, configure_logging=False)
        figures[f"init_s{'_dashboard' if dashboard else ''}"] = round(time.perf_counter() - t0, 2)
        if not dashboard:
            ray.shutdown()

    @ray.remote(num_cpus=1)
    def noop(x):
        return x

    ray.get([noop.remote(i) for i in range(2 * args.cpus)])  # warm workers
    t0 = time.perf_counter()
    ray.get([noop.remote(i) for i in range(args.noop)])
    figures["noop_tasks_per_s"] = round(args.noop / (time.perf_counter() - t0), 1)
    t0 = time.perf_counter()
    ray.get(ray.remote(num_cpus=1)(_import_sinkit).remote())
    figures["first_task_s"] = round(time.perf_counter() - t0, 2)

    work = Path(tempfile.mkdtemp(prefix="ray_overhead_"))
    try:
        data = tiny_dataset(work / "data", args.images)
        settings = BenchSettings(overrides={"iters": 2, "max_size": 40, "min_size": 20}, samples=2, start_scales=["N"])
        t0 = time.perf_counter()
        run_bench(data, work / "local", settings, device="cpu", progress=False, log=lambda _: None)
        figures["bench_local_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        run_benchmarks(data, work / "ray", settings, ray=RayOptions(memory_per_task_gb=0.5), device="cpu", progress=False, log=lambda _: None)
        figures["bench_ray_s"] = round(time.perf_counter() - t0, 2)
        figures["bench_runs"] = args.images
        per_run_local = figures["bench_local_s"] / args.images
        # with C CPUs the runs could overlap C at a time; the overhead is what Ray adds beyond that ideal
        figures["bench_ray_overhead_s_per_run"] = round(figures["bench_ray_s"] * min(args.cpus, args.images) / args.images - per_run_local, 2)
        t0 = time.perf_counter()
        run_benchmarks(data, work / "ray", settings, ray=RayOptions(memory_per_task_gb=0.5), device="cpu", progress=False, log=lambda _: None)
        figures["bench_ray_resume_all_done_s"] = round(time.perf_counter() - t0, 2)
    finally:
        ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    figures["loadavg_after"] = open("/proc/loadavg").read().split()[:3]
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
