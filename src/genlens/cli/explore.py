"""``genlens explore``: the browser explorer on 127.0.0.1, behind a per-start token."""
from __future__ import annotations

import errno
import os
import signal
import socket
import sys
import threading
import webbrowser
from pathlib import Path

import typer

from genlens.cli.common import DeviceOpt


def _bind(host: str, port: int) -> socket.socket:
    from genlens.errors import GenlensError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise GenlensError(f"port {port} on {host} is already in use; pass another --port or 0 for a free one") from None
        raise GenlensError(f"cannot listen on {host}:{port} ({exc.strerror}); check --host and --port") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def explore(
    models: list[str] = typer.Argument(None, help="GAN, diffusion or classifier names/folders (default: every shipped one)."),
    port: int = typer.Option(0, "--port", min=0, max=65535, help="Port to listen on (0: a free one)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; keep the loopback unless you know why."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Print the URL only; do not open a browser."),
    screenshots: Path | None = typer.Option(None, "--screenshots", hidden=True,
                                            help="Write a PNG of every panel into this folder (headless Chromium) "
                                                 "and exit; for the tour and the README."),
    device: str = DeviceOpt,
) -> None:
    """Start the explorer and print its URL (with the access token) as one line on stdout.

    Example: genlens explore

    Example: genlens explore fmnist-eqgan fmnist-cnn --port 8765 --no-browser
    """
    import uvicorn

    from genlens.utils.device import resolve_device
    from genlens.web import ExplorerConfig, create_app, new_token
    from genlens.web.models import sort_models
    from genlens.web.server import torch_threads

    device = str(resolve_device(device))
    if screenshots is not None:
        from genlens.web.screenshots import take_screenshots

        for path in take_screenshots(screenshots, device=device):
            sys.stdout.write(f"{path}\n")
        return
    found = sort_models(models or [])
    sock = _bind(host, port)
    port = sock.getsockname()[1]
    token = new_token()
    config = ExplorerConfig(token=token, host=host, port=port, gans=tuple(found.gans),
                            classifiers=tuple(found.classifiers), diffusion=tuple(found.diffusion), device=device)
    if device == "cpu" and "OMP_NUM_THREADS" not in os.environ:  # an explicit setting wins
        import torch

        torch.set_num_threads(torch_threads(config.render_threads))
    app = create_app(config)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/?token={token}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws_max_size=1 << 16, access_log=False))

    def announce() -> None:
        while not server.started and not server.should_exit:
            threading.Event().wait(0.02)
        if server.started:
            sys.stdout.write(url + "\n")
            sys.stdout.flush()
            if not no_browser:
                webbrowser.open(url)

    threading.Thread(target=announce, daemon=True).start()
    # uvicorn turns Ctrl-C and SIGTERM into a graceful shutdown, then re-raises the signal to the handler
    # that was there before it: a no-op here, so stopping the server is a normal exit (code 0).
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        app.state.pool.shutdown(wait=False, cancel_futures=True)
        sock.close()
