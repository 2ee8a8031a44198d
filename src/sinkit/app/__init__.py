"""The browser app: upload an image, train in the background with live progress, sample and manipulate.

``sinkit app [--host 127.0.0.1] [--port 7860] [--runs ~/sinkit-runs]`` serves a
Gradio page on the user's own machine (``pip install 'sinkit[app]'``).  It is
a thin layer over the Python API, like the CLI:

* :mod:`~sinkit.app.runs` -- the runs folder: every run is a normal ``sinkit train --out``
  directory (the CLI can use runs made in the page and the page lists runs made by the CLI),
  plus the page's job record, progress file, uploaded inputs and outputs; run names are
  sanitised so nothing is written outside the folder.
* :mod:`~sinkit.app.jobs` -- the training queue: each training runs in its own worker process
  (:mod:`~sinkit.app.worker`), one at a time by default, cancellable and resumable.
* :mod:`~sinkit.app.progress` -- live progress of any method, read from its progress bars.
* :mod:`~sinkit.app.estimate` -- training time on this machine before starting: from earlier
  runs in the folder, or a short calibration.
* :mod:`~sinkit.app.methods` and :mod:`~sinkit.app.actions` -- what the registered methods and a
  trained model can do (registry and capability mixins: no method is named here) and the
  page's actions as plain functions over :mod:`sinkit.tasks`.
* :mod:`~sinkit.app.ui` -- the Gradio page (the only module that imports gradio), and
  :mod:`~sinkit.app.server` -- :func:`serve`.

Importing this package loads neither gradio nor any method.
"""

from __future__ import annotations

__all__ = ["serve"]


def serve(*args, **kwargs):
    """Serve the page (see :func:`sinkit.app.server.serve`)."""
    from .server import serve as _serve

    return _serve(*args, **kwargs)
