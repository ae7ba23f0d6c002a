"""Explorer fixtures: an app for FastAPI's TestClient, a live uvicorn server in a thread, and Debian's
Chromium driven by Playwright (its own browser download cannot work offline)."""
from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PORT = 8765  # TestClient never opens it; it only names the Host the guard expects


def make_config(tmp: Path, *, port: int = PORT, data_dir: Path | None = None, **more):
    from genlens.web import ExplorerConfig

    return ExplorerConfig(token="test-token", port=port, classifiers=("fmnist-cnn",), cache_dir=tmp,
                          data_dir=str(data_dir) if data_dir else None, unit_images=200, vis_steps_scale=0.02,
                          **more)


@pytest.fixture
def app(tmp_path: Path, fmnist_dir: Path):
    from genlens.web import create_app

    return create_app(make_config(tmp_path, data_dir=fmnist_dir))


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app, base_url=f"http://127.0.0.1:{PORT}") as c:
        yield c


@pytest.fixture(scope="session")
def live_url(tmp_path_factory: pytest.TempPathFactory, fmnist_dir: Path) -> Iterator[str]:
    """A real server on a free loopback port, serving until the session ends; yields the printed URL."""
    yield from serve(tmp_path_factory.mktemp("explorer-cache"), data_dir=fmnist_dir)


def serve(cache: Path, **config) -> Iterator[str]:
    """Run the explorer (``make_config(cache, **config)`` on a free loopback port) in a thread; yields its URL."""
    import uvicorn

    from genlens.web import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(make_config(cache, port=port, **config))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the explorer server did not start in 30 s"
    yield f"http://127.0.0.1:{port}/?token=test-token"
    server.should_exit = True
    thread.join(10)
    sock.close()


def chromium_path() -> str | None:
    found = os.environ.get("GENLENS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    return found if found and Path(found).is_file() else None


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="module")
def chromium():
    """Debian's headless Chromium through Playwright; in CI a missing browser is a failure, not a skip.

    Module scope: Playwright's sync API holds an event loop on this thread while it runs, so it stops before
    other modules' tests (asyncio.run refuses to start inside a running loop)."""
    path = chromium_path()
    why = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        why = "playwright is not installed (pip install -e '.[dev]')"
    if why is None and path is None:
        why = "Chromium is not installed (make test runs scripts/ensure-chromium.sh; or apt-get install chromium)"
    if why is not None:
        if in_ci():
            pytest.fail(f"browser tests cannot run in CI: {why}")
        pytest.skip(why)
    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox", "--disable-gpu"])
    yield browser
    browser.close()
    pw.stop()


@pytest.fixture
def browser_page(chromium):
    context = chromium.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
