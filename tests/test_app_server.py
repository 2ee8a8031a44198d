"""The app's server over HTTP (needs the app extra, Gradio): it binds to loopback, serves the page, and
serves no file outside the runs folder and its own upload cache."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("gradio.blocks", reason="the browser app's Gradio extra is not installed (pip install 'sinkit[app]')")

from sinkit.app.server import start  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as err:
        return err.code, b""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    srv = start(port=free_port(), runs=runs, threads=1)
    yield srv
    srv.close()


def test_serves_the_page_on_loopback(server):
    assert server.url.startswith("http://127.0.0.1:")
    assert server.demo.server_name == "127.0.0.1"
    status, body = get(server.url)
    assert status == 200 and b"sinkit" in body


def test_no_file_outside_the_runs_folder_is_served(server, tmp_path):
    inside = server.store.root / "note.txt"
    inside.write_text("inside")
    outside = Path(__file__).resolve()
    assert get(f"{server.url}gradio_api/file={inside}")[0] == 200
    for path in (outside, Path("/etc/passwd"), server.store.root / ".." / outside.name):
        assert get(f"{server.url}gradio_api/file={path}")[0] in (403, 404), path


def test_one_app_per_runs_folder(server):
    with pytest.raises(RuntimeError, match="another sinkit app"):
        start(port=free_port(), runs=server.store.root).close()
