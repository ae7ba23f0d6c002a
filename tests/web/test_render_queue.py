"""NewestWins without a browser: while a render runs only the newest pending request survives."""
from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from genlens.web.render_queue import NewestWins


def run(coro):
    """asyncio.run in a fresh thread: a Playwright sync session may hold this thread's event loop."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coro).result()


def test_newest_request_wins_while_a_render_runs():
    gate, started = threading.Event(), threading.Event()
    rendered, delivered = [], []

    def render(req: int) -> int:
        started.set()
        if req == 0:
            gate.wait(5)  # the first render blocks until every other request has been submitted
        rendered.append(req)
        return req * 10

    async def deliver(req: int, res) -> None:
        delivered.append((req, res))

    async def main():
        with ThreadPoolExecutor(1) as pool:
            q = NewestWins(render, deliver, executor=pool)
            q.submit(0)
            while not started.is_set():
                await asyncio.sleep(0.001)
            for i in range(1, 10):
                q.submit(i)
            gate.set()
            await q.idle()
            await q.close()
            return q.stats

    stats = run(main())
    assert rendered == [0, 9]
    assert delivered == [(0, 0), (9, 90)]
    assert (stats.submitted, stats.rendered, stats.dropped) == (10, 2, 8)


def test_a_failing_render_is_delivered_as_an_exception_and_the_queue_goes_on():
    delivered = []

    def render(req: int) -> int:
        if req == 1:
            raise ValueError("bad request")
        return req

    async def deliver(req, res) -> None:
        delivered.append((req, type(res).__name__ if isinstance(res, Exception) else res))

    async def main():
        q = NewestWins(render, deliver)
        q.submit(1)
        await q.idle()
        q.submit(2)
        await q.idle()
        await q.close()
        return q.stats

    stats = run(main())
    assert delivered == [(1, "ValueError"), (2, 2)]
    assert stats.failed == 1 and stats.rendered == 1


def test_close_drops_the_pending_request_and_refuses_new_ones():
    gate = threading.Event()

    def render(req: int) -> int:
        gate.wait(5)
        return req

    delivered = []

    async def deliver(req, res) -> None:
        delivered.append(req)

    async def main():
        q = NewestWins(render, deliver)
        q.submit(1)
        await asyncio.sleep(0.01)
        q.submit(2)
        closing = asyncio.ensure_future(q.close())
        await asyncio.sleep(0.01)
        gate.set()
        await closing
        with pytest.raises(RuntimeError):
            q.submit(3)
        return q.stats

    stats = run(main())
    assert delivered == []  # nothing is sent to a page that went away
    assert stats.dropped == 1
