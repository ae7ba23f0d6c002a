"""bench/common.py's worker pool (bench/gan.py's runs) stops with the benchmark: on SIGTERM (unwound like Ctrl-C) and when the parent
is killed outright, so no spawned worker keeps training on its own."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"

SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {bench!r})
    import common
    common.stop_on_sigterm()
    with common.Runner(time.sleep, 2) as runner:
        futures = [runner.pool.submit(time.sleep, 300) for _ in range(2)]
        while len(runner.pool._processes) < 2:
            time.sleep(0.05)
        print(" ".join(str(p) for p in runner.pool._processes), flush=True)
        for f in futures:
            f.result()
""")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    end = time.monotonic() + timeout
    while time.monotonic() < end and any(_alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if _alive(p)]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to see whether workers live")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_workers_stop_with_the_benchmark(sig):
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT.format(bench=str(BENCH_DIR))], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        workers = [int(p) for p in line.split()]
        assert len(workers) == 2, proc.stderr.read()
        assert all(_alive(p) for p in workers)
        os.kill(proc.pid, sig)
        proc.wait(timeout=30)
        assert (proc.returncode != 0) and _wait_gone(workers, timeout=20) == []
    finally:
        proc.kill()
        proc.wait()
