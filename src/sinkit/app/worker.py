"""The worker process: trains one run of the app's queue, or times a short calibration.

Started by :class:`~sinkit.app.jobs.JobQueue` as ``python -m sinkit.app.worker train RUN_DIR``
(one process per training: the page never blocks, a cancel is a signal, and a
crash cannot take the server down).  It trains exactly as ``sinkit train`` does,
through the method's ``fit`` into the run directory, with progress bars on, and
:class:`~sinkit.app.progress.ProgressWriter` turns those bars into
``app/progress.json``.

``python -m sinkit.app.worker calibrate SPEC.json RESULT.json`` times the same
training with very few iterations (see :mod:`sinkit.app.estimate`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

__all__ = ["train_run", "calibrate", "main"]


def train_run(run_dir: str | Path, parent_pid: int | None = None) -> int:
    """Train (or resume) the run described by ``RUN_DIR/app/job.json``; returns the exit status.

    A resumed run takes its config from its checkpoint (so runs made by the CLI resume
    with exactly their settings) and its inputs from ``inputs/`` when the page stored
    them there, otherwise from the checkpoint's stored training inputs.
    """
    import torch

    from ..core.capabilities import Sampler
    from ..core.checkpoint import read_metadata
    from ..core.config import config_from_dict
    from ..core.io import save_grid, save_image
    from ..core.registry import get_method, load
    from .progress import ProgressWriter
    from .runs import APP_DIR, JOB_FILE, PROGRESS_FILE, WEIGHTS_FILE, read_json

    run_dir = Path(run_dir)
    writer = ProgressWriter(run_dir / APP_DIR / PROGRESS_FILE, parent_pid=parent_pid).start()
    start = time.perf_counter()
    try:
        job = read_json(run_dir / APP_DIR / JOB_FILE)
        if job is None:
            raise ValueError(f"{run_dir} has no readable {APP_DIR}/{JOB_FILE}")
        cls = get_method(job["method"])
        resume = bool(job.get("resume")) and (run_dir / WEIGHTS_FILE).exists()
        if resume:
            config = config_from_dict(cls.config_class, read_metadata(run_dir)["config"])
        else:
            config = config_from_dict(cls.config_class, job["config"])
        files = {name: run_dir / rel for name, rel in (job.get("inputs") or {}).items()}
        if files:
            inputs = cls.load_inputs(files, config=config)  # decoded as `sinkit train` does, so either resumes the other's run
        elif resume:
            inputs = {k: v.cpu() for k, v in load(run_dir, device="cpu").training_inputs.items()}
        else:
            raise ValueError("the job names no training inputs")
        print(f"training {job['method']} ({job.get('preset', '?')} preset) -> {run_dir}" + (" [resumed]" if resume else ""), flush=True)
        model = cls.fit(inputs, config, out_dir=run_dir, resume=resume, device=job.get("device", "auto"), progress=True)
        if not (run_dir / WEIGHTS_FILE).exists():
            model.save(run_dir)  # a training-free method may only build the model: keep it as a run
        seconds = time.perf_counter() - start
        print(f"trained in {seconds:.1f} s", flush=True)
        # the previews `sinkit train` writes when it ends
        if isinstance(model, Sampler) and model.stochastic:
            with torch.no_grad():
                save_grid(model.sample(8, generator=getattr(config, "seed", 0)), run_dir / "samples.png")
        elif model.reconstruction() is not None:
            save_image(model.reconstruction(), run_dir / "reconstruction.png")
        writer.finish("done", seconds=seconds)
        return 0
    except Exception as err:  # reported in the page; the traceback goes to train.log
        traceback.print_exc()
        writer.finish("failed", error=f"{type(err).__name__}: {err}", seconds=time.perf_counter() - start)
        return 1


def calibrate(spec_path: str | Path, result_path: str | Path) -> int:
    """Time the training with very few iterations (nothing saved) and write the wall times.

    ``spec``: ``{"method", "config" (dict), "inputs" {name: file}, "device"}``.  The config's
    ``iters`` is set to 2, then to 10 (4 when 2 iterations took over 10 s; no second point
    over 60 s), so the calibration costs seconds on a fast preset and a minute or two on
    a paper preset on a CPU.
    Result: ``{"points": [k...], "seconds": [t...]}`` or ``{"error": "..."}``.
    """
    from dataclasses import replace

    from ..core.config import config_from_dict
    from ..core.registry import get_method
    from .runs import write_json

    try:
        spec = json.loads(Path(spec_path).read_text())
        cls = get_method(spec["method"])
        config = config_from_dict(cls.config_class, spec["config"])
        inputs = cls.load_inputs(dict(spec["inputs"]), config=config)
        points, seconds = [], []

        def run(k: int) -> None:
            t0 = time.perf_counter()
            cls.fit(inputs, replace(config, iters=k), out_dir=None, device=spec.get("device", "auto"), progress=False)
            points.append(k)
            seconds.append(time.perf_counter() - t0)

        run(2)
        if seconds[0] < 10:
            run(10)
        elif seconds[0] < 60:
            run(4)
        write_json(result_path, {"points": points, "seconds": seconds})
        return 0
    except Exception as err:
        traceback.print_exc()
        write_json(result_path, {"error": f"{type(err).__name__}: {err}"})
        return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sinkit.app.worker", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train the run in RUN_DIR (its app/job.json)")
    p.add_argument("run_dir")
    p.add_argument("--parent", type=int, default=None, help="exit when this process (the app server) is gone")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    c = sub.add_parser("calibrate", help="time a short training")
    c.add_argument("spec")
    c.add_argument("result")
    c.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.command == "train":
        return train_run(args.run_dir, args.parent)
    return calibrate(args.spec, args.result)


if __name__ == "__main__":
    sys.exit(main())
