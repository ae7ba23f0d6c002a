"""``genlens explore``: one URL line on stdout, a token that works, a clean SIGTERM, a busy port in one line."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_port_in_use_is_one_line_and_exit_2(cli):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code, out, err = cli(["explore", "--port", port, "--no-browser"])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and f"port {port}" in err and "in use" in err


def test_a_model_that_no_panel_takes_is_one_line(cli, tmp_path):
    (tmp_path / "config.json").write_text('{"kind": "diffusion"}')
    code, _out, err = cli(["explore", str(tmp_path), "--no-browser"])
    assert code == 2 and "holds a diffusion model" in err and err.count("\n") == 1


@pytest.mark.slow
def test_explore_prints_one_url_and_stops_cleanly_on_sigterm(tmp_path):
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1",
               XDG_CACHE_HOME=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "genlens.cli.main", "explore", "fmnist-eqgan", "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and "/?token=" in url, proc.stderr.read() if not url else url
        base, token = url.split("/?token=")
        with urllib.request.urlopen(f"{base}/api/models?token={token}", timeout=10) as r:
            assert b"fmnist-eqgan" in r.read()
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(f"{base}/api/models?token=guess", timeout=10)
        assert exc.value.code == 403
        proc.send_signal(signal.SIGTERM)
        out, _err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert out == ""  # the URL was the only line


def test_render_workers_share_out_the_cores_one_thread_at_least():
    from genlens.web.server import torch_threads

    assert [torch_threads(2, cpus=c) for c in (1, 2, 3, 8)] == [1, 1, 1, 4]  # 2 cores: no oversubscription
    assert torch_threads(1, cpus=16) == 16 and torch_threads(4, cpus=2) == 1
