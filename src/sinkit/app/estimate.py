"""Training time on THIS machine, before starting: from earlier runs, or a short calibration.

Two sources, both measured here (nothing is copied from another machine):

1. **Earlier runs in the runs folder.**  Every checkpoint records its training
   wall time (``info["train_seconds"]``), its config and its training image size.
   A finished run of the same method whose settings differ at most in ``iters``,
   ``max_size`` and ``seed`` predicts
   ``t = t_run * (pixels_new / pixels_run) * (iters_new / iters_run)``
   (cost grows with the pixel count and the iteration count); the closest such
   run is used.
2. **Calibration** (a button in the page): the worker trains the chosen method and
   settings on the chosen image with ``iters`` = 2 and 10 (nothing saved) and a
   straight line through the two wall times gives the time for the real ``iters``
   (the intercept holds the per-scale set-up).  Results are kept in
   ``<runs>/.sinkit-app/calibrations.json`` per method, settings and image size.

Both figures depend on the machine's load; the calibration records the load
average it ran under.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..core.config import config_to_dict
from ..core.registry import get_method
from .progress import format_seconds
from .runs import RunStore, read_json, write_json

__all__ = ["Estimate", "training_size", "from_history", "calibrate", "cached_calibration", "estimate"]

CALIBRATIONS = ".sinkit-app/calibrations.json"


@dataclass(frozen=True)
class Estimate:
    """A training time estimate.

    Attributes:
        seconds: the estimate, s (None: no estimate).
        how: one line saying how it was computed.
        exact: measured with exactly these settings and image size (an earlier run).
    """

    seconds: float | None
    how: str
    exact: bool = False

    def text(self) -> str:
        if self.seconds is None:
            return self.how
        return f"**about {format_seconds(self.seconds)}** on this machine ({self.how})"


def training_size(config: Any, size: tuple[int, int]) -> tuple[int, int]:
    """``(height, width)`` an image of ``size`` is trained at: the long side capped at the config's
    ``max_size`` when it has one (sinkit's pyramid methods resize so), else unchanged."""
    h, w = size
    cap = getattr(config, "max_size", None)
    if cap:
        f = min(1.0, cap / max(h, w))
        return max(1, round(h * f)), max(1, round(w * f))
    return h, w


def _settings(config_dict: Mapping[str, Any]) -> dict:
    return {k: v for k, v in config_dict.items() if k != "seed"}


def from_history(store: RunStore, method: str, config: Any, size: tuple[int, int]) -> Estimate | None:
    """Scale the training time of the most similar finished run of ``method`` in ``store`` (module doc).

    Args:
        size: ``(height, width)`` of the new training image, px (as uploaded).
    """
    new = _settings(config_to_dict(config))
    h, w = training_size(config, size)
    best = None
    for name in store.names():
        found = store.metadata(name)
        if found is None:
            continue
        meta, complete = found
        if meta.get("method") != method or not complete:
            continue
        info = meta.get("info") or {}
        secs = info.get("train_seconds", 0.0)
        seconds = float(sum(secs)) if isinstance(secs, list) else float(secs or 0.0)
        shapes = list((meta.get("inputs") or {}).values())
        if seconds <= 0 or not shapes:
            continue
        old = _settings(meta.get("config") or {})
        if {k for k in set(old) | set(new) if old.get(k) != new.get(k)} - {"iters", "max_size"}:
            continue
        rh, rw = shapes[0][-2:]
        ratio = (h * w) / (rh * rw)
        if new.get("iters") and old.get("iters"):
            ratio *= new["iters"] / old["iters"]
        closeness = abs(math.log(ratio)) if ratio > 0 else float("inf")
        if best is None or closeness < best[0]:
            best = (closeness, name, seconds * ratio, seconds, (rh, rw), ratio)
    if best is None:
        return None
    _, name, est, seconds, (rh, rw), ratio = best
    scaled = "" if abs(ratio - 1) < 1e-3 else f", scaled x{ratio:.2f} for {h}x{w} px and the iterations"
    return Estimate(est, f"from run '{name}': {format_seconds(seconds)} for {rh}x{rw} px with the same settings{scaled}", exact=not scaled)


def _calibration_key(method: str, config: Any, size: tuple[int, int]) -> str:
    return json.dumps([method, _settings(config_to_dict(config)), list(training_size(config, size))], sort_keys=True)


def cached_calibration(store: RunStore, method: str, config: Any, size: tuple[int, int]) -> Estimate | None:
    """The calibration stored for this method, settings and training size, if any."""
    record = (read_json(store.root / CALIBRATIONS) or {}).get(_calibration_key(method, config, size))
    if not record:
        return None
    return _from_points(config, record["points"], record["seconds"], record.get("load"), record.get("time"))


def _from_points(config: Any, points, seconds, load: float | None, when: float | None) -> Estimate:
    iters = int(config.iters)
    if len(points) >= 2 and seconds[1] > seconds[0]:
        slope = (seconds[1] - seconds[0]) / (points[1] - points[0])
        intercept = max(0.0, seconds[0] - slope * points[0])
        line = f"{points[0]} and {points[1]} iterations took {seconds[0]:.1f} s and {seconds[1]:.1f} s; straight line to {iters}"
    else:
        slope, intercept = seconds[-1] / points[-1], 0.0
        line = f"{points[-1]} iterations took {seconds[-1]:.1f} s; proportional to {iters}"
    ago = f", {format_seconds(time.time() - when)} ago" if when else ""
    at = f" at load average {load:.1f}" if load is not None else ""
    return Estimate(intercept + slope * iters, f"calibration{ago}{at}: {line}")


def calibrate(
    store: RunStore,
    method: str,
    config: Any,
    inputs: Mapping[str, str | Path],
    size: tuple[int, int],
    *,
    device: str = "auto",
    threads: int | None = None,
    timeout: float = 300.0,
) -> Estimate:
    """Time a short training in a worker process (module doc) and store the result.

    Args:
        inputs: training input files by name (the uploaded image...).
        size: ``(height, width)`` of the image as uploaded.
        timeout: give up after this many seconds.

    Raises:
        ValueError: the method's config has no ``iters`` (nothing to extrapolate), or the
            calibration failed or timed out (the message says why).
    """
    cls = get_method(method)
    if not hasattr(config, "iters"):
        raise ValueError(f"{method} has no 'iters' setting to calibrate; estimates come from earlier runs")
    if cls.training_free:
        return Estimate(0.0, "training-free: the model is the image")
    with tempfile.TemporaryDirectory(prefix="sinkit-calibrate-") as tmp:
        spec = Path(tmp) / "spec.json"
        result = Path(tmp) / "result.json"
        spec.write_text(json.dumps({"method": method, "config": config_to_dict(config), "inputs": {k: str(v) for k, v in inputs.items()}, "device": device}))
        cmd = [sys.executable, "-m", "sinkit.app.worker", "calibrate", str(spec), str(result)]
        env = dict(os.environ)
        if threads:
            cmd += ["--threads", str(threads)]
            env["OMP_NUM_THREADS"] = str(threads)
        load = os.getloadavg()[0]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise ValueError(f"calibration took longer than {format_seconds(timeout)}: this setting trains for many hours here") from None
        data = read_json(result) or {}
        if "error" in data or proc.returncode != 0:
            raise ValueError(f"calibration failed: {data.get('error') or proc.stderr.strip().splitlines()[-1:]}")
    load = max(load, os.getloadavg()[0])
    record = {"points": data["points"], "seconds": data["seconds"], "load": round(load, 2), "time": time.time()}
    path = store.root / CALIBRATIONS
    table = read_json(path) or {}
    table[_calibration_key(method, config, size)] = record
    if len(table) > 200:
        table = dict(sorted(table.items(), key=lambda kv: kv[1].get("time", 0))[-200:])
    write_json(path, table)
    return _from_points(config, record["points"], record["seconds"], record["load"], None)


def estimate(store: RunStore, method: str, config: Any, size: tuple[int, int]) -> Estimate:
    """The best estimate available without running anything: an earlier run with exactly these
    settings and size, else a stored calibration of them, else an earlier run scaled
    (:func:`from_history`), else none (the text says what to do)."""
    cls = get_method(method)
    if cls.training_free:
        return Estimate(0.0, "training-free: the model is the image, nothing to train")
    history = from_history(store, method, config, size)
    if history is not None and history.exact:
        return history
    if hasattr(config, "iters"):
        found = cached_calibration(store, method, config, size)
        if found is not None:
            return found
    if history is not None:
        return history
    hint = "press **Estimate time** for a short calibration, or" if hasattr(config, "iters") else ""
    return Estimate(None, f"No estimate yet: no finished {method} run with these settings in the runs folder; {hint} start it and watch the live ETA.".replace(";  start", "; start"))
