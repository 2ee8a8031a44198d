"""Live training progress of any method: read from its progress bars, shown in the page.

Every trainer reports progress through ``tqdm`` bars (one per scale for pyramids,
one per phase for iteration-driven models: :mod:`sinkit.core.training`), so the
worker process does not need a hook in any method: :class:`ProgressWriter` polls
the live bars once a second in a background thread and writes their state
(description, iteration, total, rate, losses shown as the bar's postfix) to
``app/progress.json`` in the run directory, atomically; a bar's final state is
taken when it closes (a short stage may start and end between two polls).  The page reads that file
and the run's checkpoint (:func:`overall`) to say how far the whole run is.
"""

from __future__ import annotations

import os
import re
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from .runs import write_json

__all__ = ["ProgressWriter", "bar_state", "overall", "format_seconds"]


def bar_state(bar: Any) -> dict:
    """What a ``tqdm`` bar shows: ``desc``, ``n``, ``total``, ``elapsed`` (s), ``rate`` (it/s or None),
    ``postfix`` (the losses text a trainer sets)."""
    d = bar.format_dict
    rate = d.get("rate")
    if not rate and d.get("elapsed") and bar.n:
        rate = bar.n / d["elapsed"]
    return {
        "desc": str(bar.desc or "").rstrip(": "),
        "n": int(bar.n),
        "total": int(bar.total) if bar.total else None,
        "elapsed": float(d.get("elapsed") or 0.0),
        "rate": float(rate) if rate else None,
        "postfix": str(d.get("postfix") or ""),
    }


class ProgressWriter:
    """Poll the process's live progress bars and write them to ``path`` as JSON.

    Args:
        path: the progress file (``app/progress.json``).
        interval: seconds between writes.
        parent_pid: the app server's process id; when it goes away the worker exits
            (``os._exit(3)``), so no training outlives the page that started it.

    The file holds ``state`` (``running`` / ``done`` / ``failed``), ``pid``,
    ``started`` and ``updated`` (UNIX times), ``bars`` (the live bars,
    :func:`bar_state`), ``finished`` (bars that closed, oldest first) and, at the end,
    ``seconds`` or ``error``.
    """

    def __init__(self, path: str | Path, *, interval: float = 1.0, parent_pid: int | None = None):
        self.path = Path(path)
        self.interval = interval
        self.parent_pid = parent_pid
        self.started = time.time()
        self.finished: list[dict] = []
        self._seen: dict[int, tuple[Any, dict]] = {}
        self._recorded: "weakref.WeakSet" = weakref.WeakSet()
        self._restore = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="sinkit-progress", daemon=True)

    def start(self) -> "ProgressWriter":
        """Write the first state, watch bars closing, and start polling."""
        from tqdm.std import tqdm

        original = tqdm.close
        writer = self

        def close(bar, *args, **kwargs):
            if not bar.disable:
                writer._closed(bar)
            return original(bar, *args, **kwargs)

        self._restore = (tqdm, original)
        tqdm.close = close
        self.write()
        self._thread.start()
        return self

    def _closed(self, bar) -> None:
        with self._lock:
            self._seen.pop(id(bar), None)
            if bar not in self._recorded:
                self._recorded.add(bar)
                self.finished.append(bar_state(bar))
                del self.finished[:-500]

    def snapshot(self) -> list[dict]:
        """States of the live bars, oldest first; bars that closed since the last call move to :attr:`finished`."""
        from tqdm.std import tqdm

        with tqdm.get_lock():
            live = sorted(list(tqdm._instances), key=lambda b: getattr(b, "start_t", 0.0))
        ids = {id(b) for b in live}
        with self._lock:
            for key in [k for k in self._seen if k not in ids]:
                bar, _ = self._seen.pop(key)  # closed without close() (garbage-collected): keep its last count
                if bar not in self._recorded:
                    self.finished.append(bar_state(bar))
                    self._recorded.add(bar)
                    del self.finished[:-500]
            states = []
            for bar in live:
                state = bar_state(bar)
                self._seen[id(bar)] = (bar, state)
                states.append(state)
        return states

    def write(self, state: str = "running", **extra) -> None:
        bars = self.snapshot()
        write_json(
            self.path,
            {
                "state": state,
                "pid": os.getpid(),
                "started": self.started,
                "updated": time.time(),
                "bars": bars,
                "finished": list(self.finished),
                **extra,
            },
        )

    def finish(self, state: str, **extra) -> None:
        """Stop polling and write the final state (``done`` with ``seconds``, ``failed`` with ``error``)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if self._restore is not None:
            cls, original = self._restore
            cls.close = original
            self._restore = None
        self.write(state, **extra)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self.parent_pid is not None and not _alive(self.parent_pid):
                os._exit(3)  # the app server is gone: do not train on for nobody
            try:
                self.write()
            except OSError:
                pass  # a full disk must not kill training; the next write retries


def _alive(pid: int) -> bool:
    """Whether the process that started this worker (its direct parent) still runs: when a parent
    dies, its children are re-parented, so the parent id changes."""
    return os.getppid() == pid


def format_seconds(seconds: float | None) -> str:
    """``75`` -> ``1 min 15 s``; ``5400`` -> ``1 h 30 min``; None -> ``?``."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "?"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {(seconds % 3600) // 60:02d} min"


def overall(progress: dict | None, model: Any = None, iters: int | None = None) -> dict:
    """How far the whole run is, from the live bars and the latest checkpoint.

    * Pyramid models (:class:`~sinkit.core.pyramid_model.PyramidModel`, known after the first
      scale's checkpoint): scales are trained one after the other with the same number of
      iterations; an iteration at scale ``k`` runs the generators of scales ``0..k``, so its cost
      is taken as proportional to ``W_k`` = the pixel count of scales ``0..k``;
      ``done = (sum of W over finished scales + W_current * n / total) / sum of all W``, and the
      remaining time is the current scale's seconds per iteration scaled by ``W``.
    * Iteration-driven models (``info["phases"]`` written by
      :func:`~sinkit.core.training.train_iterations`): iterations of all phases.
    * Otherwise (before the first checkpoint): the current bar alone (``scope`` says so).

    Args:
        progress: the run's progress file contents (None: nothing known).
        model: the run's latest checkpoint, loaded (None when there is none yet).
        iters: iterations per scale of a pyramid run (its config's ``iters``), when known.

    Returns:
        ``{"fraction": 0..1 or None, "eta": seconds or None, "scope": "run" | "stage" | ""}``.
    """
    from ..core.pyramid_model import PyramidModel

    bars = (progress or {}).get("bars") or []
    bar = bars[-1] if bars else None
    if bar is None or not bar.get("total"):
        return {"fraction": None, "eta": None, "scope": ""}
    n, total, rate = bar["n"], bar["total"], bar.get("rate")
    stage_eta = (total - n) / rate if rate else None
    if isinstance(model, PyramidModel) and iters and total == iters and model.num_scales < len(model.sizes):
        work, acc = [], 0
        for h, w in model.sizes:
            acc += h * w
            work.append(acc)
        cur = model.num_scales
        done = sum(work[:cur]) + work[cur] * n / total
        eta = None
        if rate:
            eta = stage_eta + total * sum(work[cur + 1 :]) / (rate * work[cur])
        return {"fraction": done / sum(work), "eta": eta, "scope": "run"}
    phases = (getattr(model, "info", None) or {}).get("phases") if model is not None else None
    if phases:
        names = [p["name"] for p in phases]
        shown = re.sub(r" \(\d+ phases\)$", "", bar["desc"])  # train_iterations' bar: "<phase> (<k> phases)"
        current = next((i for i, name in enumerate(names) if shown == name), None)
        if current is not None:
            total_all = sum(int(p["iters"]) for p in phases)
            done = sum(int(p["iters"]) for p in phases[:current]) + n
            eta = (total_all - done) / rate if rate else None
            return {"fraction": done / total_all, "eta": eta, "scope": "run"}
    return {"fraction": n / total, "eta": stage_eta, "scope": "stage"}
