"""Peak memory of a block of work: process RSS on the CPU, allocator peak on CUDA."""

from __future__ import annotations

import os
import resource
import sys
import threading

import torch

__all__ = ["PeakMemory", "current_rss_mb"]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def current_rss_mb() -> float | None:
    """Resident set size of this process in MiB (Linux ``/proc``), else None."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE / 2**20
    except OSError:
        return None


def _maxrss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


class PeakMemory:
    """Context manager measuring the peak memory of the code inside it.

    * CPU: a background thread samples the process RSS every ``interval`` s
      (``ru_maxrss`` is the peak of the whole process life, useless per image
      once an earlier image used more); where ``/proc`` is missing it falls
      back to ``ru_maxrss``.  ``peak_rss_mb`` includes the interpreter and torch
      (about 0.3-0.5 GiB); ``rss_before_mb`` is the baseline.
    * CUDA: ``torch.cuda.max_memory_allocated`` after a reset, in ``cuda_peak_mb``.

    Attributes (after exit): ``peak_rss_mb``, ``rss_before_mb``, ``cuda_peak_mb`` (None off CUDA).
    """

    def __init__(self, device: torch.device | str = "cpu", interval: float = 0.05):
        self.device = torch.device(device)
        self.interval = interval
        self.peak_rss_mb: float | None = None
        self.rss_before_mb: float | None = None
        self.cuda_peak_mb: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            rss = current_rss_mb()
            if rss is not None and (self.peak_rss_mb is None or rss > self.peak_rss_mb):
                self.peak_rss_mb = rss

    def __enter__(self) -> "PeakMemory":
        self.rss_before_mb = current_rss_mb()
        self.peak_rss_mb = self.rss_before_mb
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        if self.rss_before_mb is not None:
            self._thread = threading.Thread(target=self._watch, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            rss = current_rss_mb()
            if rss is not None:
                self.peak_rss_mb = max(self.peak_rss_mb or 0.0, rss)
        else:
            self.peak_rss_mb = _maxrss_mb()
        if self.device.type == "cuda":
            self.cuda_peak_mb = torch.cuda.max_memory_allocated(self.device) / 2**20
