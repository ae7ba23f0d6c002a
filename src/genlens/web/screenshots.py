"""Screenshots of every explorer panel, taken by the headless Chromium the browser tests drive (for the tour
and the README).

``take_screenshots(folder)`` starts the explorer in this process on a free loopback port, opens each panel by
its URL in Debian's Chromium through Playwright (``executable_path``: Playwright's own browser download
cannot work offline), waits until the panel has drawn, performs the panel's key interaction where one is
needed (a diffusion run, a background inversion, a few grid cells) and writes ``explorer-<panel>.png``.
``genlens explore --screenshots DIR`` calls it.
"""
from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genlens.errors import GenlensError


@dataclass(frozen=True)
class Shot:
    name: str  # file name
    route: str  # the hash route, state included
    ready: str  # a JS expression true once the panel has drawn
    act: Callable[[Any], None] | None = None  # the interaction before the picture (gets the page)


def _invert_and_fill(page: Any) -> None:
    page.locator("#inv-run").click()
    page.wait_for_function("window.__inversions.done > 0", timeout=300_000)
    page.locator("#inv-fill").click()
    page.wait_for_function("window.__inversions.cells >= 10 || document.querySelector('#status').textContent"
                           ".startsWith('grid complete')", timeout=600_000)


SHOTS = (
    Shot("explorer-gan.png", "#gan?model=fmnist-eqgan&seed=3&psi=0.8&dcam=1",
         "window.__genlens && window.__genlens.frames > 0"),
    Shot("explorer-walk.png", "#gan?model=fmnist-gan&seed=3&seed2=11&px=0.2&py=0.1&psi=0.8&baseline=0"
         "&pts=-1.000:0.000;0.200:0.100;1.000:-0.300", "window.__genlens && window.__genlens.frames > 0"),
    Shot("explorer-layout.png", "#gan?model=scenes-gan-layout&seed=3&psi=0.8"
         "&l=7:0.250:0.700:0.400,8:0.700:0.300:0.400,1:0.300:0.250:0.350",
         "window.__genlens && window.__genlens.frames > 0"),
    Shot("explorer-diffusion.png", "#diffusion?model=fmnist-ddpm-text&prompt=a%20leather%20ankle%20boot&steps=20&seed=1",
         "window.__diffusion && window.__diffusion.done > 0"),
    Shot("explorer-cam.png", "#cam?model=fmnist-cnn&image=test:12",
         "document.querySelector('#cam-overlay')?.src.startsWith('data:')"),
    Shot("explorer-units.png", "#units?model=fmnist-cnn&layer=stages.2.0.act&unit=5",
         "document.querySelector('#units-vis')?.naturalWidth > 0 && !!document.querySelector('#units-dead')"),
    Shot("explorer-inversions.png", "#inversions?models=fmnist-cnn&methods=deepdream&what=class&model=fmnist-cnn"
         "&method=pii&class=Sneaker&scale=0.2", "!!document.querySelector('#inv-grid tr')", _invert_and_fill),
)


def find_chromium() -> str:
    found = os.environ.get("GENLENS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found or not Path(found).is_file():
        raise GenlensError("Chromium is not installed; apt-get install chromium (or set GENLENS_CHROMIUM to its path)")
    return found


@contextmanager
def serve_in_thread(**config: Any) -> Iterator[str]:
    """The explorer (``ExplorerConfig`` fields in ``config``) on a free loopback port; yields its URL."""
    import uvicorn

    from genlens.web import ExplorerConfig, create_app, new_token

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    token = new_token()
    app = create_app(ExplorerConfig(token=token, port=port, **config))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        if not server.started:
            raise GenlensError("the explorer did not start within 60 s; run `genlens explore` to see why")
        yield f"http://127.0.0.1:{port}/?token={token}"
    finally:
        server.should_exit = True
        thread.join(20)
        app.state.pool.shutdown(wait=False, cancel_futures=True)
        sock.close()


def shoot(url: str, folder: Path, *, chromium: str, shots: tuple[Shot, ...] = SHOTS) -> list[Path]:
    """One PNG per shot of the explorer at ``url`` (an explorer already serving)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise GenlensError("screenshots need Playwright; pip install playwright (or the dev extras)") from None
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1180, "height": 620})
        for shot in shots:
            page.goto("about:blank")  # a new page load: a hash change alone keeps a mounted panel as it was
            page.goto(url + shot.route)
            page.wait_for_function(shot.ready, timeout=300_000)
            if shot.act is not None:
                shot.act(page)
            page.wait_for_timeout(300)  # let the last frame paint
            written.append(folder / shot.name)
            page.screenshot(path=str(written[-1]), full_page=True)
        browser.close()
    return written


SHEET = "explorer-panels.png"  # every panel on one page, for the README


def contact_sheet(paths: list[Path], out: Path, *, width: int = 560, columns: int = 2, gap: int = 8) -> Path:
    """The screenshots ``paths`` scaled to ``width`` pixels and tiled ``columns`` to a row (each row as tall as
    its tallest picture, top-aligned, on white) into one PNG ``out``."""
    from PIL import Image

    tiles = []
    for path in paths:
        with Image.open(path) as im:
            im = im.convert("RGB")
            tiles.append(im.resize((width, round(im.height * width / im.width)), Image.LANCZOS))
    rows = [tiles[i:i + columns] for i in range(0, len(tiles), columns)]
    heights = [max(t.height for t in row) for row in rows]
    sheet = Image.new("RGB", (columns * width + (columns + 1) * gap, sum(heights) + (len(rows) + 1) * gap), "white")
    y = gap
    for row, h in zip(rows, heights):
        for c, tile in enumerate(row):
            sheet.paste(tile, (gap + c * (width + gap), y))
        y += h + gap
    sheet.save(out, optimize=True)
    return out


def take_screenshots(folder: str | os.PathLike, *, chromium: str | None = None, device: str = "cpu",
                     cache_dir: Path | None = None) -> list[Path]:
    """Start the explorer with the shipped models and write every panel's screenshot into ``folder``, plus
    :data:`SHEET`, all of them on one page."""
    chromium = chromium or find_chromium()
    config: dict[str, Any] = {"device": device, "inversion_steps_scale": 0.1, "inversion_n": 2}
    if cache_dir is not None:
        config["cache_dir"] = Path(cache_dir)
    with serve_in_thread(**config) as url:
        shots = shoot(url, Path(folder), chromium=chromium)
    return [*shots, contact_sheet(shots, Path(folder) / SHEET)]
