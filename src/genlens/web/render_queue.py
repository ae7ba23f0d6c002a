"""Newest-request-wins rendering, off the event loop (the StyleGAN3 visualizer's pattern).

One :class:`NewestWins` per client: ``submit`` never blocks and never queues more than one request. While
a render runs in the worker thread pool, a newer request replaces the pending one, and the replaced one is
counted in ``dropped``; when the render ends, only the newest pending request is rendered next. A fast
drag therefore costs at most one render behind the pointer, whatever the rate of events, and the per-client
memory is bounded by one pending request.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Generic, TypeVar

Req = TypeVar("Req")
Res = TypeVar("Res")


class Cancelled(Exception):
    """A streaming render stopped because the page cancelled it or sent a newer one."""


@dataclass
class QueueStats:
    submitted: int = 0
    rendered: int = 0
    dropped: int = 0  # requests replaced by a newer one before they were rendered
    failed: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"submitted": self.submitted, "rendered": self.rendered, "dropped": self.dropped,
                "failed": self.failed}


class NewestWins(Generic[Req, Res]):
    """``render(req)`` runs in ``executor``; ``deliver(req, result_or_exception)`` runs on the loop.

    Use inside a running event loop::

        q = NewestWins(render, deliver, executor=pool)
        q.submit(request)      # any number of times, from the loop
        await q.close()        # waits for the render in flight, drops what is pending
    """

    def __init__(self, render: Callable[[Req], Res], deliver: Callable[[Req, Res | Exception], Awaitable[None]],
                 *, executor: Executor | None = None) -> None:
        self._render, self._deliver, self._executor = render, deliver, executor
        self._pending: Req | None = None
        self._has_pending = False
        self._wake = asyncio.Event()
        self._closed = False
        self.busy = False
        self.stats = QueueStats()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def submit(self, req: Req) -> None:
        if self._closed:
            raise RuntimeError("this render queue is closed")
        self.stats.submitted += 1
        if self._has_pending:
            self.stats.dropped += 1
        self._pending, self._has_pending = req, True
        self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._closed:
            await self._wake.wait()
            self._wake.clear()
            if not self._has_pending or self._closed:
                continue
            req, self._pending, self._has_pending = self._pending, None, False
            self.busy = True
            try:
                result: Res | Exception = await loop.run_in_executor(self._executor, self._render, req)
                self.stats.rendered += 1
            except Exception as exc:  # a bad request must not end the client's queue
                result = exc
                self.stats.failed += 1
            finally:
                self.busy = False
            if not self._closed:
                await self._deliver(req, result)

    async def idle(self) -> None:
        """Wait until nothing is pending or rendering (tests, benchmarks)."""
        while self.busy or self._has_pending:
            await asyncio.sleep(0.001)

    async def close(self) -> None:
        self._closed = True
        if self._has_pending:
            self.stats.dropped += 1
        self._pending, self._has_pending = None, False
        self._wake.set()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
