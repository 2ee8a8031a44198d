"""``sinkit bench --ray``: the same benchmark, one Ray task per (method, image, seed).

Ray does the scheduling, the resource accounting (each task declares its CPUs,
GPUs and memory) and the retries (``max_retries`` re-runs a task whose worker or
node died; ``retry_exceptions`` only for :data:`INFRA_ERRORS`, never for a bad
image).  Each task runs :func:`sinkit.bench.harness.run_task`, the function the
single-process bench runs, so a task writes the same checkpoint, sheet and
per-image record, and the driver writes the same reports.

Where the results go: the output folder (and the dataset) must be a path that
every node sees at the same place (one machine, NFS, a ReadWriteMany volume, a
bucket mounted with a FUSE driver).  Tasks write checkpoints and records there
directly; a task on a node that does not see the folder fails at once with a
message saying so.  Nothing is uploaded back through Ray's object store.

Needs the ``ray`` extra (``pip install 'sinkit[ray]'``), installed with the same
sinkit version on every node.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..core.errors import SinkitError
from ..core.version import __version__
from .harness import DATA_ERRORS, Bench, BenchTask, record_failure, run_task

__all__ = ["RayOptions", "INFRA_ERRORS", "BenchFailed", "run_bench_ray", "connect"]

#: Exceptions raised inside a task that Ray retries (``retry_exceptions``): transient trouble with
#: the shared filesystem or the network.  Worker and node deaths are retried by ``max_retries``
#: anyway; errors of the image or the code are not retried.
INFRA_ERRORS: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)

_MARKER = ".sinkit-driver-{token}"

#: while tasks finish, the driver rewrites the reports at most this often (and always at the end)
REPORT_EVERY_S = 60.0


class BenchFailed(SinkitError, RuntimeError):
    """Some runs failed for another reason than a bad image (listed in the benchmarks' summary.md)."""


@dataclass
class RayOptions:
    """How to reach the cluster and what each task asks of it.

    Attributes:
        address: ``auto`` (the cluster running on this machine, else a new local one
            using every core and GPU here), ``local`` (always a new local one), or any
            address ``ray.init`` takes (``ray://head:10001`` through Ray Client,
            ``head:6379`` from a cluster node).
        num_cpus: CPUs of a local cluster started here (None: every core).
        num_gpus: GPUs of a local cluster started here (None: every GPU).
        cpus_per_task: CPUs each task declares (also its torch intra-op threads).
        gpus_per_task: GPUs each task declares (fractions share a GPU); with ``--device auto``
            a task with a GPU trains on it, one without trains on the CPU.
        memory_per_task_gb: memory each task declares, GiB (0: none).  Measured peaks: SinGAN
            ``fast`` 0.6 GiB, ``paper`` 3.4 GiB on a CPU (docs/singan.md).
        max_retries: how often Ray re-runs a task whose worker or node died.
        dashboard: start the dashboard with a local cluster (needs ``ray[default]``).
    """

    address: str = "auto"
    num_cpus: int | None = None
    num_gpus: int | None = None
    cpus_per_task: float = 1.0
    gpus_per_task: float = 0.0
    memory_per_task_gb: float = 2.0
    max_retries: int = 3
    dashboard: bool = True


def _import_ray():
    try:
        import ray
    except ImportError:
        raise SinkitError("--ray needs Ray: pip install 'sinkit[ray]'") from None
    return ray


def connect(options: RayOptions, log: Callable[[str], None] = print) -> tuple[bool, str | None]:
    """Connect to (or start) the Ray cluster of ``options.address``, unless this process already is.

    Returns:
        ``(started, dashboard_url)``: whether this call connected (so the caller disconnects), and
        the dashboard's URL (None when the cluster runs none).
    """
    ray = _import_ray()
    if ray.is_initialized():
        return False, _dashboard_url(ray)
    start = time.perf_counter()
    common = {"log_to_driver": True, "configure_logging": False}
    if options.address in ("auto", "local"):
        local = {"num_cpus": options.num_cpus, "num_gpus": options.num_gpus, "include_dashboard": options.dashboard}
        ctx = None
        if options.address == "auto" and (os.environ.get("RAY_ADDRESS") or _running_cluster()):
            try:
                ctx = ray.init(address="auto", **common)
            except ConnectionError as err:
                if os.environ.get("RAY_ADDRESS"):
                    raise
                log(f"no running Ray cluster here ({_first_line(err)}); starting a local one")
        if ctx is None:
            ctx = ray.init(address="local", **local, **common)
    else:
        ctx = ray.init(address=options.address, **common)
    resources = ray.cluster_resources()
    log(
        f"Ray {ray.__version__}: {len(ray.nodes())} node(s), {resources.get('CPU', 0):g} CPUs, "
        f"{resources.get('GPU', 0):g} GPUs (connected in {time.perf_counter() - start:.1f} s)"
    )
    return True, getattr(ctx, "dashboard_url", None) or _dashboard_url(ray)


def _running_cluster() -> bool:
    """Whether a cluster started by ``ray start`` on this machine answers (Ray's record of it names its
    address; a record left by a dead cluster would make ``ray.init("auto")`` retry for minutes)."""
    import tempfile

    record = Path(tempfile.gettempdir(), "ray", "ray_current_cluster")
    try:
        host, _, port = record.read_text().strip().rpartition(":")
        with socket.create_connection((host, int(port)), timeout=1.0):
            return True
    except (OSError, ValueError):
        return False


def _dashboard_url(ray) -> str | None:
    try:
        from ray._private.worker import get_dashboard_url

        return get_dashboard_url() or None
    except Exception:  # private API: the link is a convenience
        return None


def _task_body(task: BenchTask, settings, metrics, device, token, threads, version):
    """What one Ray task runs (module level, so workers import it from sinkit)."""
    import torch

    if version != __version__:
        raise SinkitError(f"this node has sinkit {__version__}, the driver {version}: install the same version everywhere")
    if not (Path(task.out) / _MARKER.format(token=token)).exists():
        raise SinkitError(
            f"{task.out} is not visible from node {socket.gethostname()}: --ray needs the output folder "
            "on a filesystem every node mounts at the same path"
        )
    torch.set_num_threads(threads)
    host = socket.gethostname()

    def started():
        print(f"[{task.label}] training on {host} (pid {os.getpid()})", flush=True)

    try:
        result = run_task(task, settings, metrics, device=device, progress=False, token=token, on_start=started)
    except DATA_ERRORS as err:  # the image's fault: no retry, the benchmark goes on
        return {"status": "failed", "error": f"{type(err).__name__}: {err}", "host": host}
    result["host"], result["pid"] = host, os.getpid()
    return result


def run_bench_ray(
    benches: list[Bench],
    options: RayOptions | None = None,
    *,
    device: str = "auto",
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run every unfinished run of ``benches`` as Ray tasks, then write each bench's reports.

    Args:
        benches: prepared benchmark folders (:func:`~sinkit.bench.harness.prepare_bench`).
        options: cluster address and per-task resources.
        device: ``auto`` (a task with a GPU uses it), ``cpu``, ``cuda``.
        progress: one progress bar for the whole benchmark (tasks finished / all).
        log: receives the driver's lines (connection, dashboard, one line per finished task).

    Returns:
        Counts ``{"done", "skipped", "failed", "busy"}`` and ``"dashboard"`` (URL or None).

    Raises:
        SinkitError: Ray is not installed.
        ValueError: ``device`` is CUDA but the tasks declare no GPU.
        BenchFailed: a run failed for another reason than a bad image (after the others finished).
    """
    options = options or RayOptions()
    if str(device).startswith("cuda") and options.gpus_per_task <= 0:
        raise ValueError("--device cuda with --ray needs --gpus-per-task (Ray hides the GPUs from tasks that declare none)")
    ray = _import_ray()
    from tqdm.auto import tqdm

    started, dashboard = connect(options, log)
    if dashboard and "://" not in dashboard:
        dashboard = f"http://{dashboard}"
    log(f"Ray dashboard: {dashboard}" if dashboard else "Ray dashboard: none (install ray[default] for it)")
    token = uuid.uuid4().hex[:12]
    markers = []
    counts = {"done": 0, "skipped": 0, "failed": 0, "busy": 0}
    errors: list[str] = []
    try:
        for bench in benches:
            marker = bench.out / _MARKER.format(token=token)
            marker.write_text(f"{socket.gethostname()}:{os.getpid()}\n")
            markers.append(marker)
        resources = {"num_cpus": options.cpus_per_task, "num_gpus": options.gpus_per_task}
        if options.memory_per_task_gb > 0:
            resources["memory"] = int(options.memory_per_task_gb * 2**30)
        remote = ray.remote(max_retries=options.max_retries, retry_exceptions=list(INFRA_ERRORS), **resources)(_task_body)
        threads = max(1, int(options.cpus_per_task))
        all_tasks = [(bench, task) for bench in benches for task in bench.tasks()]
        todo = [(b, t) for b, t in all_tasks if not t.record.exists()]
        counts["skipped"] = len(all_tasks) - len(todo)
        log(
            f"{len(all_tasks)} runs: {counts['skipped']} finished earlier, {len(todo)} submitted as Ray tasks "
            f"({options.cpus_per_task:g} CPU, {options.gpus_per_task:g} GPU, {options.memory_per_task_gb:g} GiB each; "
            f"up to {options.max_retries} retries)"
        )
        refs = {
            remote.options(name=f"sinkit bench {t.label}").remote(t, b.settings, b.metrics, device, token, threads, __version__): t
            for b, t in todo
        }
        bar = tqdm(total=len(all_tasks), initial=counts["skipped"], desc="bench", unit="run", disable=not progress, dynamic_ncols=True)
        say = bar.write if progress else log
        t0 = last_report = time.perf_counter()
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            task = refs[ready[0]]
            try:
                result = ray.get(ready[0])
            except ray.exceptions.RayError as err:  # the code, the machine, or retries used up
                cause = getattr(err, "cause", None)
                info = record_failure(task, cause if isinstance(cause, BaseException) else _first_line(err), getattr(err, "ip", None))
                counts["failed"] += 1
                errors.append(f"{task.label}: {info['error']}")
                say(f"[{task.label}] FAILED: {info['error']}")
            else:
                status = result["status"]
                if status == "failed":
                    info = record_failure(task, result["error"], result.get("host"))
                    counts["failed"] += 1
                    say(f"[{task.label}] FAILED, left out of the results: {info['error']}")
                elif status == "busy":
                    counts["busy"] += 1
                    say(f"[{task.label}] being benchmarked by process {result['owner']}, skipped")
                else:
                    counts["done" if status == "done" else "skipped"] += 1
                    row = result["record"]
                    say(
                        f"[{task.label}] {status} on {result['host']}: {row['num_scales']} scales, "
                        f"trained in {row['train_s']:.0f} s, peak RSS {row['peak_rss_mb'] or float('nan'):.0f} MiB"
                    )
            bar.update(1)
            bar.set_postfix(done=counts["done"], failed=counts["failed"], left=len(pending), refresh=False)
            if time.perf_counter() - last_report > REPORT_EVERY_S:  # a long benchmark's summary stays current
                for bench in benches:
                    bench.write_reports()
                last_report = time.perf_counter()
        bar.close()
        if todo:
            log(f"{len(todo)} Ray tasks in {time.perf_counter() - t0:.1f} s")
    finally:
        for bench in benches:
            bench.write_reports()
        for marker in markers:
            marker.unlink(missing_ok=True)
        if started:
            ray.shutdown()
    counts["dashboard"] = dashboard
    if counts["busy"]:
        log(
            f"{counts['busy']} runs are held by other processes (their lock files); rerun when they finish "
            "(a lock not refreshed for 2 minutes is taken over)"
        )
    if errors:
        raise BenchFailed(f"{len(errors)} runs failed (see summary.md); the first: {errors[0]}")
    return counts


def _first_line(err: BaseException) -> str:
    lines = [line for line in str(err).splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[0] if lines else ''}"
