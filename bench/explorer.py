"""Explorer drag latency in a real browser (issue 31): pointer event -> new image decoded on the page.

Starts `genlens explore` in its own process on a free loopback port, opens the GAN panel on the shipped EqGAN-SA in
Debian's headless Chromium (Playwright, ``executable_path``), presses the level-1 heatmap blob and drags it
around a circle with real mouse events at ``--rate`` moves per second for ``--seconds``. Each move sends a
request stamped with the pointer event's ``timeStamp``; when the frame for a request has been decoded and
drawn (``createImageBitmap`` of every part), the page records now - timeStamp. Requests the server dropped as
stale (newest-wins) have no frame and no latency; their count is reported beside p50/p95.

    .venv/bin/python bench/explorer.py                       # 20 s, writes bench/results/explorer.json
    .venv/bin/python bench/explorer.py --seconds 5 --out /tmp/explorer.json
    .venv/bin/python bench/explorer.py --screenshots docs    # only the panels' screenshots, no measurement
    .venv/bin/python bench/explorer.py --stress             # the issue's load test: 50 clients x 30/s x 60 s, as "stress"
    .venv/bin/python bench/explorer.py --stress --clients 10 --seconds 10 --out /tmp/e.json   # a short check
    .venv/bin/python bench/explorer.py --diffusion 5          # diffusion panel timings, added as "diffusion"

The load test (``--stress``; defaults are the issue's terms: ``--clients 50``, ``--rate 30``, ``--seconds 60``)
starts ``genlens explore`` as a subprocess and connects ``--clients`` WebSocket clients (no browser) that each
drag a blob at ``--rate`` requests/s; it reports errors, the server's resident memory at the end
over its start (after one warm-up render per client), the p95 of request-to-frame times and the fraction of
requests dropped as stale.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import environment, load_average, write_json

STRESS = {"clients": 50, "rate": 30.0, "seconds": 60.0}  # the load test


def percentile(xs: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in [0, 100]) of a non-empty list."""
    s = sorted(xs)
    k = (len(s) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


@contextmanager
def serve(*models: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """``genlens explore MODELS`` in its own process, as a user runs it; yields (process, printed URL)."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    proc = subprocess.Popen([sys.executable, "-m", "genlens.cli.main", "explore", *models, "--no-browser",
                             "--device", "cpu"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        yield proc, proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(20)


def measure(url: str, *, model: str, seconds: float, rate: float, chromium: str, warmup: float) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        page.goto(url + f"#gan?model={model}&seed=0&baseline=0")
        page.wait_for_function("window.__genlens && window.__genlens.frames > 0", timeout=30_000)
        first_frame = page.evaluate("window.__genlens.firstFrame")
        page.reload()  # the models are loaded now: this is the page load a user sees after the first
        page.wait_for_function("window.__genlens && window.__genlens.frames > 0", timeout=30_000)
        warm_first_frame = page.evaluate("window.__genlens.firstFrame")
        blob = page.locator('#gan-stage .blob[data-level="1"]').bounding_box()
        stage = page.locator("#gan-stage").bounding_box()
        cx, cy = stage["x"] + stage["width"] / 2, stage["y"] + stage["height"] / 2
        radius = 0.3 * stage["width"]
        page.mouse.move(blob["x"] + blob["width"] / 2, blob["y"] + blob["height"] / 2)
        page.mouse.down()
        start, i, measured = time.perf_counter(), 0, False
        while (elapsed := time.perf_counter() - start) < warmup + seconds:
            if not measured and elapsed >= warmup:  # forget the warm-up frames (first renders, JIT)
                page.evaluate("() => { window.__genlens.latencies = []; window.__genlens.renderMs = []; window.__genlens.arrivals = []; window.__genlens.serverMs = []; window.__genlens.ids = []; window.__genlens.sent0 = window.__genlens.sent; "
                              "window.__genlens.frames0 = window.__genlens.frames; }")
                measured = True
            angle = 2 * math.pi * i / (2 * rate)  # one turn every two seconds
            page.mouse.move(cx + radius * math.cos(angle), cy + radius * math.sin(angle))
            i += 1
            time.sleep(max(0.0, start + i / rate - time.perf_counter()))
        page.mouse.up()
        page.wait_for_function("window.__genlens.lastId === window.__genlens.sent - 1", timeout=30_000)
        stats = page.evaluate("() => ({latencies: window.__genlens.latencies, render: window.__genlens.renderMs, "
                              "arrivals: window.__genlens.arrivals, server: window.__genlens.serverMs, "
                              "ids: window.__genlens.ids, sent0: window.__genlens.sent0, "
                              "sent: window.__genlens.sent - window.__genlens.sent0})")
        # a request sent before the reset can be answered after it: keep only frames of requests sent while measuring
        keep = [i for i, rid in enumerate(stats.pop("ids")) if rid >= stats["sent0"]]
        for key in ("latencies", "render", "arrivals", "server"):
            stats[key] = [stats[key][i] for i in keep]
        stats["frames"] = len(keep)
        browser.close()
    return stats | {"first_frame": first_frame, "warm_first_frame": warm_first_frame}


async def _drag_client(uri: str, origin: str, blobs: list[dict], *, seconds: float, rate: float,
                       phase: float) -> dict[str, Any]:
    import asyncio
    import json
    import struct

    from websockets.asyncio.client import connect

    times: list[float] = []
    errors: list[str] = []
    sent: dict[int, float] = {}
    stats: dict[str, int] = {}
    async with connect(uri, origin=origin, max_size=1 << 22) as ws:
        done = asyncio.Event()

        async def reader() -> None:
            async for msg in ws:
                if isinstance(msg, bytes):
                    (n,) = struct.unpack(">I", msg[:4])
                    rid = json.loads(msg[4 : 4 + n])["id"]
                    times.append(1000 * (time.perf_counter() - sent.pop(rid)))
                    for old in [k for k in sent if k < rid]:  # dropped as stale: never answered
                        sent.pop(old)
                else:
                    data = json.loads(msg)
                    if "stats" in data:
                        stats.update(data["stats"])
                        done.set()
                    else:
                        errors.append(data.get("error", msg))

        task = asyncio.create_task(reader())
        start, n = time.perf_counter(), int(seconds * rate)
        for i in range(n):
            a = phase + 2 * math.pi * i / (2 * rate)
            dx, dy = 0.25 * math.cos(a), 0.25 * math.sin(a)
            moved = [dict(b, x=min(1, max(0, b["x"] + dx)), y=min(1, max(0, b["y"] + dy))) for b in blobs]
            sent[i] = time.perf_counter()
            await ws.send(json.dumps({"type": "gan", "id": i, "model": "fmnist-eqgan", "blobs": moved,
                                      "encoding": "raw"}))  # as the page asks
            await asyncio.sleep(max(0.0, start + (i + 1) / rate - time.perf_counter()))
        await asyncio.sleep(2.0)  # the last render
        await ws.send(json.dumps({"type": "stats"}))
        await asyncio.wait_for(done.wait(), 30)
        task.cancel()
    return {"times": times, "errors": errors, "stats": stats}


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def stress(*, clients: int, seconds: float, rate: float = 30.0) -> dict[str, Any]:
    """``clients`` WebSocket clients dragging at ``rate`` requests/s against a ``genlens explore`` subprocess."""
    import asyncio
    import urllib.request

    with serve("fmnist-eqgan") as (proc, url):
        base, token = url.split("/?token=")
        with urllib.request.urlopen(f"{base}/api/gan/info?model=fmnist-eqgan&seed=0&token={token}") as r:
            blobs = json.loads(r.read())["blobs"]
        uri = base.replace("http://", "ws://") + f"/ws?token={token}"

        async def run_all(secs: float) -> list[dict[str, Any]]:
            return await asyncio.gather(*(_drag_client(uri, base, blobs, seconds=secs, rate=rate, phase=k)
                                          for k in range(clients)))

        asyncio.run(run_all(1.0))  # warm-up: every client's first render, caches filled
        rss_start = _rss_mb(proc.pid)
        results = asyncio.run(run_all(seconds))
        rss_end = _rss_mb(proc.pid)
    times = [t for r in results for t in r["times"]]
    errors = sum(len(r["errors"]) for r in results)
    submitted = sum(r["stats"].get("submitted", 0) for r in results)
    dropped = sum(r["stats"].get("dropped", 0) for r in results)
    return {"clients": clients, "seconds": seconds, "rate": rate,
            "errors": errors, "first_errors": [e for r in results for e in r["errors"]][:3],
            "frames": len(times), "requests": submitted, "stale_dropped": dropped,
            "drop_ratio": round(dropped / max(1, submitted), 4),
            "p50": round(percentile(times, 50), 1) if times else None,
            "p95": round(percentile(times, 95), 1) if times else None,
            "rss_start_mb": round(rss_start, 1), "rss_end_mb": round(rss_end, 1),
            "rss_ratio": round(rss_end / rss_start, 3),
            "targets": {"errors": 0, "rss_ratio_below": 1.5} | STRESS,
            "met": {"errors": errors == 0, "memory": rss_end < 1.5 * rss_start,
                    "full_length": seconds >= STRESS["seconds"] and clients >= STRESS["clients"]
                    and rate >= STRESS["rate"]}}


async def _diffusion_runs(uri: str, origin: str, *, model: str, cls: str, runs: int) -> list[dict[str, float]]:
    """``runs`` + 1 DDIM runs with the model's shipped settings over one socket; the first warms the caches."""
    import struct

    from websockets.asyncio.client import connect

    out = []
    async with connect(uri, origin=origin, max_size=1 << 22) as ws:
        for i in range(runs + 1):
            t0 = time.perf_counter()
            await ws.send(json.dumps({"type": "diffusion", "id": i, "model": model, "class": cls, "seed": i}))
            first = None
            while True:
                msg = await ws.recv()
                if isinstance(msg, str):
                    head = json.loads(msg)
                    if "error" in head:
                        raise RuntimeError(head["error"])
                    continue
                (n,) = struct.unpack(">I", msg[:4])
                head = json.loads(msg[4 : 4 + n])
                if head.get("kind") == "step" and first is None:
                    first = 1000 * (time.perf_counter() - t0)
                if head.get("final"):
                    if i:
                        out.append({"first_step_ms": first, "final_ms": 1000 * (time.perf_counter() - t0),
                                    "steps": head["total"]})
                    break
    return out


def diffusion_timing(*, model: str = "fmnist-ddpm", cls: str = "Sneaker", runs: int = 5) -> dict[str, Any]:
    """Diffusion panel, class model with its shipped settings (DDIM 20): request to first streamed step frame
    and to the final frame, over a WebSocket from ``genlens explore`` in its own process."""
    import asyncio

    with serve(model) as (_proc, url):
        base, token = url.split("/?token=")
        uri = base.replace("http://", "ws://") + f"/ws?token={token}"
        rows = asyncio.run(_diffusion_runs(uri, base, model=model, cls=cls, runs=runs))
    first = [r["first_step_ms"] for r in rows]
    final = [r["final_ms"] for r in rows]
    return {"model": model, "class": cls, "runs": runs, "steps": rows[0]["steps"],
            "first_frame_ms_p50": round(percentile(first, 50), 1), "first_frame_ms_max": round(max(first), 1),
            "final_ms_p50": round(percentile(final, 50), 1), "final_ms_max": round(max(final), 1),
            "targets": {"first_frame_ms": 300.0, "final_ms": 2000.0}}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The options, with the defaults of the run they pick (``stress`` true: the load test)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="fmnist-eqgan", help="generator with heatmap input")
    p.add_argument("--seconds", type=float, help="measured drag duration (default 20; 60 with --stress)")
    p.add_argument("--warmup", type=float, default=2.0, help="drag seconds not measured")
    p.add_argument("--repeats", type=int, default=3, help="drag measurements, each in a fresh browser (default 3)")
    p.add_argument("--rate", type=float, help="pointer moves per second (default 60; per client 30 with --stress)")
    p.add_argument("--chromium", default=os.environ.get("GENLENS_CHROMIUM") or shutil.which("chromium"),
                   help="Chromium binary (Debian's chromium package)")
    p.add_argument("--out", default="bench/results/explorer.json", help="result file")
    p.add_argument("--screenshots", type=Path, help="write the panels' screenshots to this folder and stop")
    p.add_argument("--stress", action="store_true",
                   help="run the WebSocket load test instead (issue 31: 50 clients dragging at 30/s for 60 s)")
    p.add_argument("--clients", type=int, help="load-test clients (default 50; giving it implies --stress)")
    p.add_argument("--diffusion", type=int, metavar="RUNS",
                   help="time the diffusion panel (first step frame, DDIM-20 final) over RUNS runs instead")
    args = p.parse_args(argv)
    stressing = args.stress or args.clients is not None
    args.clients = STRESS["clients"] if args.clients is None else args.clients
    args.seconds = args.seconds or (STRESS["seconds"] if stressing else 20.0)
    args.rate = args.rate or (STRESS["rate"] if stressing else 60.0)
    if args.clients < 1 or args.seconds <= 0 or args.rate <= 0 or args.repeats < 1:
        p.error("--clients, --seconds, --rate and --repeats must be positive")
    args.stress = stressing
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.diffusion:
        out = Path(args.out)
        result = json.loads(out.read_text()) if out.is_file() else {"benchmark": "explorer"}
        env = environment(torch.device("cpu"))  # load average at the start
        result["diffusion"] = diffusion_timing(runs=args.diffusion) | {"env": env | {"load_average_end": load_average()}}
        write_json(out, result)
        d = result["diffusion"]
        print(f"diffusion panel: first step frame p50 {d['first_frame_ms_p50']} ms (target 300), DDIM-{d['steps']} "
              f"final p50 {d['final_ms_p50']} ms (target 2000) -> {out}")
        return 0
    if args.stress:
        out = Path(args.out)
        result = json.loads(out.read_text()) if out.is_file() else {"benchmark": "explorer"}
        env = environment(torch.device("cpu"))
        result["stress"] = stress(clients=args.clients, seconds=args.seconds, rate=args.rate) | {
            "env": env | {"load_average_end": load_average()}}
        write_json(out, result)
        st = result["stress"]
        print(f"{st['clients']} clients x {st['seconds']} s: {st['errors']} errors, p95 {st['p95']} ms, "
              f"{100 * st['drop_ratio']:.1f} % dropped as stale, memory x{st['rss_ratio']} -> {out}")
        return 0
    if not args.chromium:
        print("bench/explorer.py: Chromium not found; apt-get install chromium or pass --chromium", file=sys.stderr)
        return 2
    if args.screenshots:
        from genlens.web.screenshots import take_screenshots  # the same function as genlens explore --screenshots

        for path in take_screenshots(args.screenshots, chromium=args.chromium):
            print(path)
        return 0
    env = environment(torch.device("cpu"))
    runs = []
    with serve(args.model) as (_proc, url):
        for _ in range(args.repeats):  # a fresh browser each time, the same server (as a user reloading)
            runs.append(measure(url, model=args.model, seconds=args.seconds, rate=args.rate, chromium=args.chromium,
                                warmup=args.warmup))
    # the headline percentiles pool every repeat's frames; each repeat's own p50/p95 shows the spread
    stats = {key: [x for r in runs for x in r[key]] for key in ("latencies", "render", "server", "arrivals")}
    stats |= {key: sum(r[key] for r in runs) for key in ("frames", "sent")}
    stats |= {key: runs[0][key] for key in ("first_frame", "warm_first_frame")}  # the first page load is the cold one
    lat = stats["latencies"]
    result = {
        "benchmark": "explorer",
        "what": "GAN panel drag latency, pointer event to the new frame decoded on the page (ms)",
        "model": args.model,
        "p50": round(percentile(lat, 50), 2), "p95": round(percentile(lat, 95), 2),
        "mean": round(statistics.fmean(lat), 2), "max": round(max(lat), 2),
        "server_render_ms_p50": round(percentile(stats["render"], 50), 2),
        "server_ms_p50": round(percentile(stats["server"], 50), 2),
        "frame_arrived_ms_p50": round(percentile(stats["arrivals"], 50), 2),
        "page_load_to_first_frame_ms": {"cold": round(stats["first_frame"], 1),
                                        "models_loaded": round(stats["warm_first_frame"], 1)},
        "frames": stats["frames"], "requests": stats["sent"],
        "stale_dropped": stats["sent"] - stats["frames"],
        "repeats": [{"p50": round(percentile(r["latencies"], 50), 2), "p95": round(percentile(r["latencies"], 95), 2),
                     "frames": r["frames"], "requests": r["sent"]} for r in runs],
        "targets": {"p50": 25.0, "p95": 50.0},
        "config": {"seconds": args.seconds, "warmup": args.warmup, "rate": args.rate, "repeats": args.repeats,
                   "browser": "chromium headless",
                   "torch_threads": torch.get_num_threads()},
        "env": env | {"load_average_end": load_average()},
    }
    previous = json.loads(Path(args.out).read_text()) if Path(args.out).is_file() else {}
    for key in ("stress", "diffusion"):  # the other measurements stay until they are run again
        if key in previous:
            result[key] = previous[key]
    write_json(args.out, result)
    print(f"drag latency p50 {result['p50']} ms, p95 {result['p95']} ms over {len(lat)} frames of {args.repeats} runs "
          f"({result['stale_dropped']} of {result['requests']} requests dropped as stale) -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
