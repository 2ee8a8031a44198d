"""The training queue: runs train in worker processes, ``max_running`` at a time (1 by default).

A CPU has no room for two trainings (each one uses every core it is given),
so jobs wait in the queue, first come first served.  Each training is one
process (:mod:`sinkit.app.worker`) writing into its run directory, so the page
never blocks, cancelling is a signal (the checkpoint on disk is written
atomically; a cancelled run resumes from its last finished scale or
checkpoint interval), and a crash in training cannot take the server down.
The job's status lives in ``app/job.json`` (:mod:`sinkit.app.runs`), so it
survives a restart of the app: runs that were training when the app stopped are
``interrupted`` (resumable), queued ones stay queued.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from .runs import ACTIVE, RESUMABLE, RunStore

__all__ = ["JobQueue"]


class JobQueue:
    """Start, watch, cancel and resume trainings of a :class:`~sinkit.app.runs.RunStore`.

    Args:
        store: the runs folder.
        max_running: trainings at the same time (1: the others wait).
        threads: torch threads per worker (None: torch's default, or ``OMP_NUM_THREADS``).
        poll: seconds between checks of the workers.
    """

    def __init__(self, store: RunStore, *, max_running: int = 1, threads: int | None = None, poll: float = 0.5):
        if max_running < 1:
            raise ValueError(f"max_running must be >= 1, got {max_running}")
        self.store = store
        self.max_running = max_running
        self.threads = threads
        self.poll = poll
        self._procs: dict[str, subprocess.Popen] = {}
        self._logs: dict[str, Any] = {}
        self._cancelling: set[str] = set()
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sinkit-jobs", daemon=True)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "JobQueue":
        """Mark runs that were training when the app last stopped as interrupted, then start the loop."""
        for name in self.store.names():
            job = self.store.job(name)
            if job and job.get("status") == "running":
                self.store.update_job(name, status="interrupted", error="the app stopped while this run was training", ended_at=time.time())
        self._thread.start()
        return self

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop the loop and the workers (their runs become ``interrupted``, resumable)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)
        with self._lock:
            for name, proc in list(self._procs.items()):
                _terminate(proc)
            deadline = time.time() + timeout
            for name, proc in list(self._procs.items()):
                try:
                    proc.wait(timeout=max(0.1, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                self.store.update_job(name, status="interrupted", error="the app stopped while this run was training", ended_at=time.time(), returncode=proc.returncode)
                self._close_log(name)
            self._procs.clear()

    # ------------------------------------------------------------------ requests from the page
    def submit(self, name: str) -> None:
        """Queue the run ``name`` (its job record must exist)."""
        with self._lock:
            job = self.store.job(name)
            if job is None:
                raise ValueError(f"run {name!r} has no job record")
            if job.get("status") in ACTIVE:
                raise ValueError(f"run {name!r} is already {job['status']}")
            self.store.update_job(name, status="queued", queued_at=time.time(), error=None, returncode=None)
        self._wake.set()

    def cancel(self, name: str) -> str:
        """Cancel a queued or running training; returns what happened, in words.

        Raises:
            ValueError: the run is neither queued nor running.
        """
        with self._lock:
            job = self.store.job(name) or {}
            status = job.get("status")
            if name in self._procs:
                self._cancelling.add(name)
                _terminate(self._procs[name])
                return f"cancelling {name}: its last checkpoint is kept (resume continues from it)"
            if status == "queued":
                self.store.update_job(name, status="cancelled", ended_at=time.time())
                return f"{name} removed from the queue"
        raise ValueError(f"run {name!r} is not queued or running (status: {status or 'no job'})")

    def resume(self, name: str, *, device: str | None = None) -> None:
        """Queue an interrupted, cancelled or failed run to continue from its last checkpoint.

        Runs made by the CLI get a job record first (method and config from the checkpoint,
        inputs from the checkpoint's stored training inputs).

        Raises:
            ValueError: the run is queued, running or finished.
        """
        from ..core.checkpoint import read_metadata

        with self._lock:
            path = self.store.existing_run(name)
            job = self.store.job(name)
            if job is None:
                found = self.store.metadata(name)
                if found is None:
                    raise ValueError(f"run {name!r} has no checkpoint to resume")
                meta, complete = found
                if complete:
                    raise ValueError(f"run {name!r} is finished: nothing to resume")
                job = {
                    "name": name,
                    "method": meta["method"],
                    "preset": "",
                    "config": read_metadata(path)["config"],
                    "inputs": {},
                    "created": path.stat().st_mtime,
                    "device": device or self.store.device,
                    "origin": "cli",
                }
                self.store.write_job(name, job)
            status = job.get("status")
            if status in ACTIVE:
                raise ValueError(f"run {name!r} is already {status}")
            if status == "done":
                raise ValueError(f"run {name!r} is finished: nothing to resume")
            if status not in RESUMABLE and status is not None:
                raise ValueError(f"run {name!r} cannot be resumed (status {status})")
            self.store.update_job(name, resume=True, status="queued", queued_at=time.time(), error=None, returncode=None)
        self._wake.set()

    def running(self) -> list[str]:
        with self._lock:
            return list(self._procs)

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is queued or running (tests); False on timeout."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self._lock:
                busy = self._procs or any((self.store.job(n) or {}).get("status") == "queued" for n in self.store.names())
            if not busy:
                return True
            time.sleep(0.2)
        return False

    # ------------------------------------------------------------------ the loop
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._reap()
                self._launch()
            except Exception as err:  # the queue must outlive any one bad run directory
                print(f"sinkit app: job queue error: {type(err).__name__}: {err}", file=sys.stderr)
            self._wake.wait(self.poll)
            self._wake.clear()

    def _reap(self) -> None:
        with self._lock:
            for name, proc in list(self._procs.items()):
                rc = proc.poll()
                if rc is None:
                    continue
                del self._procs[name]
                self._close_log(name)
                progress = self.store.progress(name) or {}
                if name in self._cancelling:
                    self._cancelling.discard(name)
                    status, error = "cancelled", None
                elif rc == 0:
                    status, error = "done", None
                else:
                    status = "failed"
                    error = progress.get("error") or f"the worker exited with status {rc} ({self._last_log_line(name)})"
                self.store.update_job(name, status=status, error=error, returncode=rc, ended_at=time.time(), resume=False)

    def _launch(self) -> None:
        with self._lock:
            if len(self._procs) >= self.max_running:
                return
            queued = []
            for name in self.store.names():
                job = self.store.job(name)
                if job and job.get("status") == "queued" and name not in self._procs:
                    queued.append((float(job.get("queued_at") or 0.0), name))
            for _, name in sorted(queued)[: self.max_running - len(self._procs)]:
                self._start(name)

    def _start(self, name: str) -> None:
        run_dir = self.store.run_dir(name)
        self.store.progress_path(name).unlink(missing_ok=True)  # the previous attempt's
        log_path = self.store.log_path(name)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(log_path, "a")
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} worker started ===\n")
        log.flush()
        cmd = [sys.executable, "-m", "sinkit.app.worker", "train", str(run_dir), "--parent", str(os.getpid())]
        env = dict(os.environ, PYTHONUNBUFFERED="1", TQDM_MININTERVAL="1")
        if self.threads:
            cmd += ["--threads", str(self.threads)]
            env["OMP_NUM_THREADS"] = str(self.threads)
        try:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        except OSError as err:
            log.close()
            self.store.update_job(name, status="failed", error=f"cannot start the worker: {err}", ended_at=time.time())
            return
        self._procs[name] = proc
        self._logs[name] = log
        self.store.update_job(name, status="running", started_at=time.time(), pid=proc.pid)

    def _close_log(self, name: str) -> None:
        log = self._logs.pop(name, None)
        if log is not None:
            log.close()

    def _last_log_line(self, name: str) -> str:
        try:
            lines = [ln.strip() for ln in self.store.log_path(name).read_text(errors="replace").replace("\r", "\n").splitlines() if ln.strip()]
        except OSError:
            return "no log"
        return lines[-1][:300] if lines else "empty log"


def _terminate(proc: subprocess.Popen) -> None:
    """SIGTERM the worker (its own process group: nothing else is signalled)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            proc.terminate()
