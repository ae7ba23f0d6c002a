"""Helpers shared by the benchmark scripts: timing, medians, the machine's matmul peak, environment, JSON.

Every benchmark measures its subject and a peer in the same run and reports the ratio (docs/benchmarks.md).
Nothing here prints; the scripts' ``main`` functions do.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import signal
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import torch


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels, so wall-clock time covers the work (a no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(fn: Callable[[], Any], iters: int, device: torch.device) -> float:
    """Seconds taken by ``iters`` back-to-back calls of ``fn``."""
    synchronize(device)
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    synchronize(device)
    return time.perf_counter() - t0


def calibrate(fn: Callable[[], Any], device: torch.device, *, min_time: float, min_iters: int) -> int:
    """Calls per timed sample: at least ``min_iters`` and enough to last ``min_time`` seconds.

    ``fn`` must already be warmed up; the call made here counts as one more warm-up call.
    """
    one = time_calls(fn, 1, device)
    return max(min_iters, math.ceil(min_time / max(one, 1e-9)))


def summarize(samples: list[float]) -> dict[str, Any]:
    """Median, min, max and the raw samples of one measurement."""
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples),
            "samples": list(samples)}


# --- the peer every compute benchmark is measured against: square fp32 matmul ---------------------

class MatmulPeak:
    """Square ``n x n`` matmuls, ``2 n^3`` FLOPs each; one :meth:`sample` gives GFLOP/s."""

    def __init__(self, n: int, *, device: torch.device, dtype: torch.dtype = torch.float32, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.n = n
        self.device = device
        self.a = torch.randn(n, n, generator=g).to(device=device, dtype=dtype)
        self.b = torch.randn(n, n, generator=g).to(device=device, dtype=dtype)
        self.out = torch.empty(n, n, device=device, dtype=dtype)
        self.iters = 1

    @property
    def flops(self) -> float:
        return 2.0 * self.n ** 3

    def __call__(self) -> None:
        torch.mm(self.a, self.b, out=self.out)

    def warm_up(self, *, min_time: float) -> None:
        """Run once, then choose how many matmuls each sample times."""
        self()
        self.iters = calibrate(self, self.device, min_time=min_time, min_iters=1)

    def sample(self) -> float:
        """GFLOP/s of one timed batch of ``self.iters`` matmuls."""
        secs = time_calls(self, self.iters, self.device)
        return self.flops * self.iters / secs / 1e9


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float32`` -> ``"float32"``."""
    return str(dtype).removeprefix("torch.")


def peak_summary(samples_by_size: dict[int, list[float]], dtype: str) -> dict[str, Any]:
    """Per-size medians and the peak: the best size's median GFLOP/s."""
    sizes = {str(n): summarize(s) for n, s in samples_by_size.items()}
    best = max(sizes, key=lambda k: sizes[k]["median"])
    return {"dtype": dtype, "sizes": sizes, "best_size": int(best),
            "gflops": sizes[best]["median"]}


# --- environment and output -------------------------------------------------------------------------

def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (falls back to ``platform.processor()``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment(device: torch.device) -> dict[str, Any]:
    """Versions, hardware and date: what a reader needs to compare two result files."""
    import timm

    env: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "timm": timm.__version__,
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "device": str(device),
        "load_average_start": load_average(),
    }
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
        env["cuda"] = torch.version.cuda
    return env


def load_average() -> list[float] | None:
    """1/5/15-minute load average: other work on the machine skews every number."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def write_json(path: str | os.PathLike, obj: dict[str, Any]) -> Path:
    """Write ``obj`` as indented JSON (keys in their order), creating parent folders. Atomic (a temporary file
    moved over ``path``): a benchmark killed while saving leaves the previous file whole, never a torn one."""
    from genlens.utils.io import atomic_write

    text = json.dumps(obj, indent=2) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text))


# --- running jobs in this process or in spawned workers ---------------------------------------------

_BARRIER: Any = None  # set in spawned workers: jobs that call worker_barrier() start timing together


def worker_barrier() -> None:
    """Wait until every worker of the pool is here (a no-op in this process): timings under full contention."""
    if _BARRIER is not None:
        _BARRIER.wait()


def _init_worker(barrier: Any, parent: int) -> None:
    global _BARRIER
    _BARRIER = barrier
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int, poll_s: float = 2.0) -> None:
    """A spawned worker quits when the benchmark process is gone (killed with SIGKILL, say), instead of
    working on unseen; what it checkpointed stays for a resume."""
    while os.getppid() == parent:  # the parent's pid, passed in: it may die before this worker starts
        time.sleep(poll_s)
    os._exit(1)


def stop_on_sigterm() -> None:
    """SIGTERM (``kill``, a CI timeout) unwinds like Ctrl-C, so :class:`Runner` stops its workers."""
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)


class Runner:
    """``fn`` over jobs in this process (``parallel`` <= 1) or in ``parallel`` spawned processes (CUDA needs
    spawn) that live for the whole benchmark, so imports, CUDA start-up and data are paid once per process.
    ``fn`` and the jobs must pickle (a module-level function; plain data or importable callables)."""

    def __init__(self, fn: Callable[[Any], Any], parallel: int) -> None:
        self.fn = fn
        self.pool = None
        if parallel > 1:
            ctx = get_context("spawn")
            self.pool = ProcessPoolExecutor(max_workers=parallel, mp_context=ctx, initializer=_init_worker,
                                            initargs=(ctx.Barrier(parallel, timeout=900), os.getpid()))

    def map(self, jobs: list[Any]) -> list[Any]:
        return [self.fn(j) for j in jobs] if self.pool is None else list(self.pool.map(self.fn, jobs))

    def imap_unordered(self, jobs: list[Any]) -> Iterator[tuple[Any, Any]]:
        """(job, result) as each job finishes: in order in this process, in order of completion in the pool,
        so the caller can checkpoint after every job. A job's exception is raised here when its turn comes."""
        if self.pool is None:
            for j in jobs:
                yield j, self.fn(j)
            return
        futures = {self.pool.submit(self.fn, j): i for i, j in enumerate(jobs)}
        for fut in as_completed(futures):
            yield jobs[futures[fut]], fut.result()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if self.pool is None:
            return
        if exc_type is None:
            self.pool.shutdown()
            return
        # interrupted or failed: the workers are mid-job, so stop them now rather than wait
        workers = list(getattr(self.pool, "_processes", {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for proc in workers:
            proc.terminate()
        for proc in workers:
            proc.join(timeout=10)


class InterleavedWindows:
    """Throughput of our training loop against peers, in alternating windows driven by our loop's step callback.

    After ``warm`` steps of ours every peer runs one window of ``window`` calls; then every ``window`` steps of
    ours, our window's images/s is recorded and each peer runs another window. So each window of ours sits
    between two windows of every peer, and ``paired(name)`` divides ours by the mean of the two around it:
    load that drifts during the run hits both sides of each ratio alike. Pass :meth:`on_step` as the loop's
    callback (it reads ``record["step"]``).
    """

    def __init__(self, peers: dict[str, Callable[[], Any]], *, batch: int, window: int, warm: int,
                 report: Callable[[InterleavedWindows], None] | None = None) -> None:
        if warm < 1:
            raise ValueError("warm must be >= 1: the first peer window runs from our callback after warm-up")
        self.peers, self.batch, self.window, self.warm, self.report = peers, batch, window, warm, report
        self.ours: list[float] = []
        self.theirs: dict[str, list[float]] = {name: [] for name in peers}
        self._busy = 0.0
        self._mark = 0.0

    def _peer_windows(self) -> None:
        for name, step in self.peers.items():
            self.theirs[name].append(self.batch * self.window / time_calls(step, self.window, torch.device("cpu")))

    def on_step(self, record: dict[str, Any]) -> None:
        step = record["step"]
        if step == self.warm:
            self._peer_windows()
        elif step > self.warm:
            self._busy += time.perf_counter() - self._mark  # one whole step of our loop
            if (step - self.warm) % self.window == 0:
                self.ours.append(self.batch * self.window / self._busy)
                self._peer_windows()
                self._busy = 0.0
                if self.report is not None:
                    self.report(self)
        self._mark = time.perf_counter()

    def paired(self, name: str) -> list[float]:
        """Our rate over the mean of the peer's windows just before and just after, one per window of ours."""
        rates = self.theirs[name]
        return [o / (0.5 * (a + b)) for o, a, b in zip(self.ours, rates, rates[1:])]
