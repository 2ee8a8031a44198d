"""Start the page: runs folder, training queue, Gradio server (``sinkit app``).

Security for a tool on the user's own machine: the server binds to
``127.0.0.1`` unless ``host`` says otherwise (and then warns that the page
has no login); uploads are limited in bytes by the server and in pixels and
format by :func:`sinkit.app.ui.validate_upload` (the library's image reader);
run names are sanitised (:mod:`sinkit.app.runs`); Gradio serves files only from
the runs folder (``allowed_paths``) besides its own upload cache; Gradio's
usage analytics and the server-side rendering node process are off.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["serve", "start", "Server", "LOOPBACK", "DEFAULT_RUNS"]

LOOPBACK = "127.0.0.1"
DEFAULT_RUNS = "~/sinkit-runs"
LOCK_FILE = ".sinkit-app/server.pid"


@dataclass
class Server:
    """A running app: the Gradio Blocks, the training queue and the page's URL."""

    demo: Any
    queue: Any
    store: Any
    url: str
    lock: Path

    def close(self) -> None:
        """Stop the server and the trainings (they stay resumable), release the runs folder."""
        try:
            self.demo.close()
        finally:
            self.queue.shutdown()
            _release(self.lock)


def _acquire(root: Path) -> Path:
    """One app per runs folder: two servers would start the same queued run twice."""
    lock = root / LOCK_FILE
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:
        pid = int(lock.read_text().strip())
    except (FileNotFoundError, ValueError):
        pid = None
    if pid:
        try:
            os.kill(pid, 0)
            alive = True
        except ProcessLookupError:
            alive = False
        except PermissionError:
            alive = True
        if alive:
            raise RuntimeError(f"another sinkit app (process {pid}) serves {root}; stop it first or use another --runs folder (if no app runs, delete {lock})")
    lock.write_text(f"{os.getpid()}\n")
    return lock


def _release(lock: Path) -> None:
    try:
        if lock.read_text().strip() == str(os.getpid()):
            lock.unlink()
    except (FileNotFoundError, ValueError):
        pass


def start(
    host: str = LOOPBACK,
    port: int = 7860,
    runs: str | Path = DEFAULT_RUNS,
    *,
    jobs: int = 1,
    threads: int | None = None,
    device: str = "auto",
    max_upload_mb: int = 25,
    max_pixels: int = 40_000_000,
    quiet: bool = True,
) -> Server:
    """Start the page without blocking; returns a :class:`Server` (``close()`` it).

    Args:
        host: address to bind (``127.0.0.1``: this machine only).
        port: TCP port.
        runs: the runs folder (created if needed).
        jobs: trainings at the same time.
        threads: torch threads per training worker (None: torch's default / ``OMP_NUM_THREADS``).
        device: ``auto``, ``cpu``, ``cuda`` or ``mps`` (training and the page's own inference).
        max_upload_mb: largest accepted upload, MB.
        max_pixels: largest accepted image, pixels.

    Raises:
        ImportError: gradio is not installed (``pip install 'sinkit[app]'``).
        RuntimeError: another app serves the same runs folder.
        OSError: the port is taken.
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("GRADIO_TELEMETRY_ENABLED", "False")
    import gradio as gr

    from ..core.device import resolve_device
    from .jobs import JobQueue
    from .runs import RunStore
    from .ui import CSS, Limits, build_app

    resolve_device(device)  # a clear error now rather than in every worker
    store = RunStore(runs, device=device)
    lock = _acquire(store.root)
    queue = JobQueue(store, max_running=jobs, threads=threads).start()
    try:
        demo = build_app(store, queue, limits=Limits(max_upload_mb, max_pixels), calibration_threads=threads)
        demo.queue(default_concurrency_limit=1)
        theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
        demo.launch(
            server_name=host,
            server_port=port,
            prevent_thread_lock=True,
            allowed_paths=[str(store.root)],
            max_file_size=f"{max_upload_mb}mb",
            ssr_mode=False,
            share=False,
            quiet=quiet,
            show_error=True,
            inbrowser=False,
            theme=theme,
            css=CSS,
            mcp_server=False,
            pwa=False,
        )
    except BaseException:
        queue.shutdown()
        _release(lock)
        raise
    url = f"http://{'localhost' if host in ('0.0.0.0', '::') else host}:{demo.server_port}/"
    return Server(demo, queue, store, url, lock)


def serve(host: str = LOOPBACK, port: int = 7860, runs: str | Path = DEFAULT_RUNS, **kwargs) -> None:
    """Serve the page until Ctrl-C (what ``sinkit app`` runs); prints the URL.

    Keyword arguments as :func:`start`.
    """
    server = start(host, port, runs, **kwargs)
    print(f"sinkit app: runs folder {server.store.root}")
    print(f"sinkit app: open {server.url} in your browser (Ctrl-C stops the server; trainings stay resumable)")
    if host != LOOPBACK and host != "localhost":
        print(f"warning: listening on {host}: the page has no login; anyone who can reach this port can use it (train, sample, see every run in {server.store.root})", file=sys.stderr)
    try:
        server.demo.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
