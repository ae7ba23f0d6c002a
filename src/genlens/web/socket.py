"""The page's one WebSocket: requests of several kinds, each with its own newest-wins queue, one writer.

A client message is one JSON object whose ``type`` names a kind (``gan``, ``diffusion``, ``invert``) or is
``stats`` / ``cancel``. Each kind has a :class:`~genlens.web.render_queue.NewestWins` queue, so a drag never
queues up and a newer diffusion run or inversion replaces the pending one; streaming kinds also stop the run
in flight (its ``cancelled()`` turns true, checked at every step). Everything leaves through one bounded
outbox drained by one writer task, so frames from worker threads and from the loop never interleave; step
frames (previews, progress) are dropped when a slow page lets the outbox fill, final frames never are.

Frames to the page: text JSON (errors ``{"error", "id", "type"}``, stats, headers without images) or binary
``[4-byte big-endian header length][header JSON][part 0][part 1]...`` (see :func:`frame`).
"""
from __future__ import annotations

import asyncio
import json
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from genlens.errors import GenlensError
from genlens.web.render_queue import Cancelled, NewestWins

MAX_MESSAGE = 64 * 1024  # bytes of one WebSocket message from a client
OUTBOX = 512  # frames waiting for a slow page; step frames beyond it are dropped


def frame(header: dict[str, Any], parts: dict[str, bytes]) -> bytes:
    header = header | {"parts": [[name, len(blob)] for name, blob in parts.items()]}
    head = json.dumps(header).encode()
    return struct.pack(">I", len(head)) + head + b"".join(parts.values())


@dataclass
class Kind:
    """How one request type is parsed (``parse(dict) -> request``, raising on bad input) and rendered
    (``render(request, emit, cancelled) -> {"parts", "ms", ...}``, in a worker thread)."""

    parse: Callable[[dict[str, Any]], Any]
    render: Callable[..., dict[str, Any]]
    streaming: bool = False  # a newer request stops the one in flight


@dataclass
class _Item:
    req: Any
    received: float
    cancel: threading.Event


async def serve_socket(ws: WebSocket, kinds: dict[str, Kind], *, executor, one_line: Callable[[Exception], str],
                       clients: set) -> None:
    loop = asyncio.get_running_loop()
    outbox: asyncio.Queue[tuple[str | bytes, asyncio.Future | None]] = asyncio.Queue(OUTBOX)
    skipped = {"steps": 0}

    async def writer() -> None:
        while True:
            msg, done = await outbox.get()
            try:
                if isinstance(msg, bytes):
                    await ws.send_bytes(msg)
                else:
                    await ws.send_text(msg)
            except (WebSocketDisconnect, RuntimeError):
                pass  # the page went away
            if done is not None and not done.done():
                done.set_result(None)

    def put_step(msg: str | bytes) -> None:  # on the loop; droppable
        try:
            outbox.put_nowait((msg, None))
        except asyncio.QueueFull:
            skipped["steps"] += 1

    async def put_final(msg: str | bytes) -> None:  # waits until sent: a slow page slows its own renders
        done = loop.create_future()
        await outbox.put((msg, done))
        await done

    writer_task = loop.create_task(writer())
    queues: dict[str, NewestWins] = {}
    current: dict[str, threading.Event] = {}

    def make_queue(name: str, kind: Kind) -> NewestWins:
        def render(item: _Item) -> dict[str, Any]:
            def emit(header: dict[str, Any], parts: dict[str, bytes]) -> None:
                header = {"type": name, "id": item.req.id} | header
                msg = frame(header, parts) if parts else json.dumps(header)
                loop.call_soon_threadsafe(put_step, msg)

            return kinds[name].render(item.req, emit, item.cancel.is_set)

        async def deliver(item: _Item, result: dict[str, Any] | Exception) -> None:
            req = item.req
            if isinstance(result, Exception):
                if isinstance(result, Cancelled):
                    await put_final(json.dumps({"type": name, "id": req.id, "cancelled": True}))
                else:
                    await put_final(json.dumps({"type": name, "error": one_line(result), "id": req.id}))
                return
            extra = {k: v for k, v in result.items() if k not in ("parts", "ms")}
            header = {"type": name, "id": req.id, "t0": getattr(req, "t0", None), "ms": round(result["ms"], 2),
                      "dropped": queues[name].stats.dropped, "final": True,
                      "server_ms": round(1000 * (time.perf_counter() - item.received), 2)} | extra
            await put_final(frame(header, result["parts"]))

        return NewestWins(render, deliver, executor=executor)

    for name, kind in kinds.items():
        queues[name] = make_queue(name, kind)
    clients.add(queues["gan"])
    try:
        while True:
            message = await ws.receive()
            received = time.perf_counter()
            if message["type"] == "websocket.disconnect":
                break
            text, data = message.get("text"), None
            if text is None or len(text) > MAX_MESSAGE:
                await put_final(json.dumps({"error": "send one JSON text message under 64 KB per request"}))
                continue
            try:
                data = json.loads(text)
                if not isinstance(data, dict):
                    raise ValueError("a message is a JSON object")
                what = data.get("type", "gan")
                if what == "stats":
                    stats = {name: q.stats.to_dict() for name, q in queues.items()}
                    await put_final(json.dumps({"stats": stats["gan"], "kinds": stats,
                                                "steps_skipped": skipped["steps"]}))
                    continue
                if what == "cancel":
                    target = data.get("what")
                    if target not in current:
                        raise ValueError(f"nothing to cancel for '{target}'; send what: diffusion or invert")
                    current[target].set()
                    continue
                if what not in kinds:
                    raise ValueError(f"unknown message type '{what}'; use one of: {', '.join(kinds)}, stats, cancel")
                req = kinds[what].parse(data)
            except (ValueError, ValidationError, GenlensError) as exc:
                rid = data.get("id") if isinstance(data, dict) else None
                await put_final(json.dumps({"error": one_line(exc), "id": rid,
                                            "type": data.get("type") if isinstance(data, dict) else None}))
                continue
            cancel = threading.Event()
            if kinds[what].streaming:
                if what in current:
                    current[what].set()  # the run in flight stops at its next step
                current[what] = cancel
            queues[what].submit(_Item(req, received, cancel))
    except WebSocketDisconnect:
        pass
    finally:
        clients.discard(queues["gan"])
        for event in current.values():
            event.set()
        for q in queues.values():
            await q.close()
        writer_task.cancel()
