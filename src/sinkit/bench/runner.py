"""Several methods in one benchmark, in this process or on a Ray cluster.

``sinkit bench --method singan,sinir`` writes one benchmark folder per method
and preset (``<out>/<method>-<preset>/``, each exactly what a one-method bench
writes) and ``<out>/comparison.md``; with one method the folder is ``<out>``
itself, as it always was.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from .harness import BenchSettings, prepare_bench, run_bench
from .reports import write_comparison

__all__ = ["bench_folders", "run_benchmarks"]


def bench_folders(out_dir: str | os.PathLike, settings: list[BenchSettings]) -> list[Path]:
    """The benchmark folder of each settings: ``out_dir`` for one, ``out_dir/<method>-<preset>`` for several.

    Raises:
        ValueError: the same method and preset twice.
    """
    out = Path(out_dir)
    if len(settings) == 1:
        return [out]
    names = [f"{s.method}-{s.preset}" for s in settings]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"method and preset given twice: {', '.join(repeated)}")
    return [out / n for n in names]


def run_benchmarks(
    dataset: str | os.PathLike,
    out_dir: str | os.PathLike,
    settings: BenchSettings | list[BenchSettings],
    *,
    ray=None,
    limit: int | None = None,
    device: str = "auto",
    download: bool = True,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> list[Path]:
    """Benchmark every settings (method, preset...) on ``dataset``; returns the benchmark folders.

    Args:
        dataset: folder of images.
        out_dir: output folder (see :func:`bench_folders`).
        settings: one or several :class:`~sinkit.bench.harness.BenchSettings`.
        ray: None to run here, one image after the other (:func:`~sinkit.bench.harness.run_bench`);
            a :class:`~sinkit.bench.ray_runner.RayOptions` to run every (method, image, seed) as a
            Ray task (:func:`~sinkit.bench.ray_runner.run_bench_ray`).
        limit, device, download, progress, log: as :func:`~sinkit.bench.harness.run_bench`.

    Raises:
        As :func:`~sinkit.bench.harness.run_bench`; with Ray also
        :class:`~sinkit.bench.ray_runner.BenchFailed`.
    """
    settings = [settings] if isinstance(settings, BenchSettings) else list(settings)
    folders = bench_folders(out_dir, settings)
    try:
        if ray is None:
            for folder, s in zip(folders, settings):
                if len(folders) > 1:
                    log(f"== {s.method} ({s.preset}) -> {folder}")
                run_bench(dataset, folder, s, limit=limit, device=device, download=download, progress=progress, log=log)
        else:
            from .ray_runner import run_bench_ray

            benches = [prepare_bench(dataset, f, s, limit=limit, download=download, log=log) for f, s in zip(folders, settings)]
            run_bench_ray(benches, ray, device=device, progress=progress, log=log)
    finally:
        if len(folders) > 1 and all((f / "bench.json").exists() for f in folders):
            write_comparison(out_dir, folders)
    return folders
