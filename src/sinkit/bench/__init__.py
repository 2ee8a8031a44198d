"""Benchmark harness: train one model per image of a dataset, sample, score, summarise.

``sinkit bench`` is a thin layer over :func:`run_bench` (this process) and
:func:`~sinkit.bench.ray_runner.run_bench_ray` (a Ray cluster); both run
:func:`run_task` per image and write the same reports.
"""

from .harness import BenchSettings, BenchTask, prepare_bench, run_bench, run_task
from .reports import REPORTED, write_comparison, write_reports
from .runner import bench_folders, run_benchmarks

__all__ = ["BenchSettings", "BenchTask", "REPORTED", "prepare_bench", "run_bench", "run_task", "write_reports", "write_comparison",
           "bench_folders", "run_benchmarks"]
