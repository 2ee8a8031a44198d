"""End to end in a real browser: start the app, upload a tiny image, train a tiny preset, sample, draw a
mask stroke, run an edit, and check the result image's size; a screenshot of every step is written
and checked to be non-blank.

Runs when Gradio (``pip install 'sinkit[app]'``), Playwright's Python client (``pip install playwright``;
its own browser download is never used) and Chromium (Debian: ``apt-get install chromium``, or
``SINKIT_CHROMIUM=/path/to/chrome``) are installed; otherwise it is skipped and says which is missing.
Screenshots go to ``$SINKIT_SCREENSHOTS`` if set, else to pytest's temporary folder (printed).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import sinkit


def _chromium() -> str | None:
    explicit = os.environ.get("SINKIT_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package is missing
        return False


_MISSING = [
    what
    for what, ok in (
        ("gradio (pip install 'sinkit[app]')", _installed("gradio.blocks")),
        ("playwright (make install-browser-test, or pip install playwright)", _installed("playwright.sync_api")),
        ("chromium (apt-get install chromium, or set SINKIT_CHROMIUM)", _chromium() is not None),
    )
    if not ok
]
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(bool(_MISSING), reason=f"browser test skipped: {', '.join(_MISSING)} not installed"),
]

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_not_blank(path: Path) -> None:
    """A screenshot shows something: a real size and more than one flat colour."""
    with Image.open(path) as im:
        assert im.width >= 400 and im.height >= 300, f"{path} is {im.size}"
        grey = np.asarray(im.convert("L"), dtype=np.float32)
    assert grey.std() > 8 and len(np.unique(grey)) > 16, f"{path} looks blank (std {grey.std():.1f})"


@pytest.fixture()
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("SINKIT_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_upload_train_sample_mask_and_edit_in_a_browser(tmp_path, tiny_image, shots):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect, sync_playwright

    from sinkit.app.server import start

    image_file = sinkit.save_image(tiny_image, tmp_path / "tiny.png")  # 32 x 48 px
    server = start(port=_free_port(), runs=tmp_path / "runs", threads=1)
    taken = []

    def shot(page, name: str) -> None:
        path = shots / f"{len(taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        taken.append(path)

    try:
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                tempfile.mkdtemp(prefix="sinkit-chromium-", dir=tmp_path),
                executable_path=_chromium(), headless=True, args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 1000},
            )
            try:
                page = context.new_page()
                page.set_default_timeout(60_000)
                expect.set_options(timeout=60_000)  # a loaded CPU (training, other jobs) slows every step
                try:
                    page.goto(server.url)
                    expect(page.locator("#start")).to_be_visible()
                    shot(page, "start")

                    # upload, settings, start
                    method = page.locator("#method input")
                    method.click()
                    method.fill("singan")
                    page.keyboard.press("Enter")
                    expect(page.locator("#iters textarea, #iters input")).to_be_visible()
                    page.set_input_files("#train-image input[type=file]", str(image_file))
                    expect(page.locator("#estimate")).to_contain_text("estimate", ignore_case=True)
                    page.fill("#iters textarea, #iters input", "20")
                    page.fill("#max-size textarea, #max-size input", "48")
                    page.fill("#run-name textarea, #run-name input", "browser test")
                    page.keyboard.press("Tab")
                    shot(page, "settings")
                    page.click("#start")
                    expect(page.locator("#run-status")).to_contain_text("browser-test")
                    status = page.locator("#run-status")
                    deadline = time.time() + 240
                    while "status: done" not in status.inner_text() and time.time() < deadline:
                        assert "failed" not in status.inner_text(), status.inner_text()
                        time.sleep(0.5)
                    assert "status: done" in status.inner_text(), status.inner_text()
                    expect(page.locator("#scale-gallery img").first).to_be_visible()
                    shot(page, "trained")

                    model = sinkit.load(server.store.run_dir("browser-test"), device="cpu")
                    h, w = model.output_size()

                    # samples
                    page.get_by_role("tab", name="Sample").click()
                    number = page.locator("#num-samples input[type=number]")
                    expect(number).to_be_visible()
                    for _ in range(5):  # once, a fill right after the tab opened did not hold (the default 8 was sampled)
                        number.fill("4")
                        number.press("Enter")
                        time.sleep(0.5)
                        if number.input_value() == "4":
                            break
                    expect(number).to_have_value("4")
                    page.click("#sample-btn")
                    expect(page.locator("#samples img")).to_have_count(4)
                    expect(page.locator("#samples-zip")).to_contain_text(".zip")
                    # the <img> elements exist before their pictures have loaded (naturalWidth 0 until then)
                    page.wait_for_function("() => { const e = document.querySelector('#samples img'); return e && e.complete && e.naturalWidth > 0; }")
                    size = page.eval_on_selector("#samples img", "e => [e.naturalWidth, e.naturalHeight]")
                    assert size == [w, h]
                    shot(page, "samples")

                    # a readable error: editing without a mask
                    page.get_by_role("tab", name="Edit & harmonize").click()
                    canvas = page.locator("#mask-editor canvas").first
                    expect(canvas).to_be_visible()
                    page.click("#edit-btn")
                    expect(page.get_by_text("no mask drawn").first).to_be_visible()
                    shot(page, "error-message")
                    # close the error toast(s); closing one re-indexes the rest, so always
                    # take the first, and tolerate one that fades out by itself meanwhile
                    toasts = page.locator(".toast-close")
                    for _ in range(10):
                        if toasts.count() == 0:
                            break
                        try:
                            toasts.first.click(timeout=5000)
                        except PlaywrightTimeout:
                            pass

                    # draw a mask stroke and edit
                    time.sleep(1)  # the canvas has loaded the training image
                    box = canvas.bounding_box()
                    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
                    page.mouse.move(cx - 60, cy)
                    page.mouse.down()
                    for i in range(13):
                        page.mouse.move(cx - 60 + 10 * i, cy + 3 * (i % 3))
                    page.mouse.up()
                    shot(page, "mask")
                    page.click("#edit-btn")
                    result = page.locator("#edit-result img")
                    expect(result).to_be_visible()
                    page.wait_for_function("() => { const e = document.querySelector('#edit-result img'); return e && e.complete && e.naturalWidth > 0; }")
                    assert result.evaluate("e => [e.naturalWidth, e.naturalHeight]") == [w, h]
                    shot(page, "edited")
                except BaseException:
                    page.screenshot(path=str(shots / "failure.png"), full_page=True)
                    print(f"\nfailure screenshot: {shots / 'failure.png'}")
                    raise
            finally:
                context.close()
    finally:
        server.close()
    print(f"\nscreenshots: {shots}")
    assert len(taken) == 7
    for path in taken:
        assert_not_blank(path)
    edits = list((server.store.run_dir("browser-test") / "outputs").glob("*-edit/blended_*.png"))
    assert len(edits) == 1 and Image.open(edits[0]).size == (w, h)
