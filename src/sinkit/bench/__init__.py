"""Benchmark harness: train one model per image of a dataset, sample, score, summarise.

``sinkit bench`` is a thin layer over :func:`run_bench`.
"""

from .harness import REPORTED, BenchSettings, run_bench, write_reports

__all__ = ["BenchSettings", "REPORTED", "run_bench", "write_reports"]
