"""The explorer's ASGI app: static page, JSON API, one WebSocket per page with binary image frames.

Every request passes :class:`~genlens.web.security.Guard` (Host, Origin, token) before any route. Heavy
HTTP routes are plain ``def`` functions, which Starlette runs in its thread pool; interactive renders go
through one :class:`~genlens.web.render_queue.NewestWins` per WebSocket client. A bad request gets a 4xx
with ``{"error": "<one line>"}`` (over the socket: a text message ``{"error": ..., "id": ...}``) and the
server keeps serving.

WebSocket frames from the server: text JSON (errors, stats) or binary
``[4-byte big-endian header length][header JSON][part 0][part 1]...`` where the header is
``{"id", "t0", "ms", "server_ms", "dropped", "parts": [[name, byte length], ...]}`` (``ms``: the render;
``server_ms``: from the request's arrival to the frame leaving, queueing included) and each part is a PNG.
"""
from __future__ import annotations

import asyncio
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import ValidationError

from genlens.errors import GenlensError
from genlens.web.images import MAX_UPLOAD_BYTES
from genlens.web.models import shipped_diffusion, shipped_gans
from genlens.web.panels.cam import CamPanel, CamRequest, Classifiers
from genlens.web.panels.diffusion import DiffusionPanel, DiffusionRequest
from genlens.web.panels.gan import GanPanel, GanRequest
from genlens.web.panels.inversions import InversionsPanel, InvertRequest
from genlens.web.panels.units import UnitsPanel
from genlens.web.panels.walk import WalkGifRequest, walk_gif
from genlens.web.security import Guard, static_file
from genlens.web.socket import Kind, serve_socket

STATIC = Path(__file__).parent / "static"


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "genlens" / "explorer"


@dataclass
class ExplorerConfig:
    token: str
    host: str = "127.0.0.1"
    port: int = 0
    gans: tuple[str, ...] = field(default_factory=shipped_gans)
    diffusion: tuple[str, ...] = field(default_factory=shipped_diffusion)
    classifiers: tuple[str, ...] = ("fmnist-cnn", "fmnist-vit", "fmnist-mixer", "fmnist-resmlp")
    cache_dir: Path = field(default_factory=default_cache_dir)
    data_dir: str | None = None
    max_clients: int = 64
    unit_images: int = 1000
    vis_steps_scale: float = 0.05
    inversion_steps_scale: float = 0.1  # the inversions grid: this fraction of each method's full step count
    inversion_n: int = 2  # images per grid cell
    clip_model: str = "fmnist-clip"
    render_threads: int = 2
    device: str = "cpu"


def torch_threads(render_threads: int, cpus: int | None = None) -> int:
    """Intra-op threads for each render worker: this process's cores shared out among the ``render_threads``
    workers, at least one. A 32 px frame is a few dozen small convolutions; measured on 2 loaded cores
    (docs/explorer.md), two threads per render were slower than one even at their best (11.7 against 8.0 ms)
    and five times slower at the median, and two workers of two threads each oversubscribe the cores."""
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cpus // max(1, render_threads))


def one_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError | RequestValidationError):
        err = exc.errors()[0]
        if err.get("type") == "json_invalid":
            return f"malformed JSON in the request body ({err.get('ctx', {}).get('error', 'invalid')}); send one JSON object"
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
        return f"{where}: {err.get('msg', 'invalid')}".replace("\n", " ")
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class GuardMiddleware:
    """Plain ASGI middleware, so it sees WebSocket handshakes too (a close before accept is an HTTP 403)."""

    def __init__(self, app: Any, guard: Guard) -> None:
        self.app, self.guard = app, guard

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        why = self.guard.refusal(scope["path"], scope.get("query_string", b""), headers)
        if why is None:
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": why[:120]})
            return None
        return await _error(403, why)(scope, receive, send)


def create_app(config: ExplorerConfig) -> FastAPI:
    guard = Guard.for_address(config.token, config.host, config.port)
    app = FastAPI(title="genlens explorer", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.guard, app.state.config = guard, config
    pool = ThreadPoolExecutor(max_workers=config.render_threads, thread_name_prefix="genlens-render")
    gan = GanPanel(list(config.gans), device=config.device)
    classifiers = Classifiers(list(config.classifiers), device=config.device, data_dir=config.data_dir)
    cam = CamPanel(classifiers)
    units = UnitsPanel(classifiers, cache_dir=config.cache_dir, n_images=config.unit_images,
                       steps_scale=config.vis_steps_scale)
    diffusion = DiffusionPanel(list(config.diffusion), device=config.device)
    inversions = InversionsPanel(classifiers, cache_dir=config.cache_dir, steps_scale=config.inversion_steps_scale,
                                 n=config.inversion_n, clip_model=config.clip_model, device=config.device)
    app.state.inversions = inversions
    app.state.gan, app.state.cam, app.state.units, app.state.diffusion = gan, cam, units, diffusion
    app.state.clients = set()

    @app.exception_handler(GenlensError)
    async def _genlens_error(_r: Request, exc: GenlensError) -> JSONResponse:
        return _error(400, one_line(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_r: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, one_line(exc))

    @app.exception_handler(HTTPException)
    async def _http(_r: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    # --- static page ------------------------------------------------------------------------------
    @app.get("/")
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    @app.get("/static/{rel:path}")
    def static(rel: str) -> FileResponse:
        path = static_file(STATIC, rel)
        if path is None:
            raise HTTPException(404, f"no static file '{rel}'")
        return FileResponse(path)

    # --- JSON API -------------------------------------------------------------------------------
    @app.get("/api/models")
    def models() -> dict[str, Any]:
        return {"gans": list(config.gans), "classifiers": list(config.classifiers),
                "diffusion": list(config.diffusion)}

    @app.get("/api/diffusion/info")
    def diffusion_info(model: str = Query(max_length=512)) -> dict[str, Any]:
        return diffusion.info(model)

    @app.get("/api/gan/info")
    def gan_info(model: str = Query(max_length=512), seed: int = Query(0, ge=0, le=2**31 - 1)) -> dict[str, Any]:
        return gan.info(model, seed)

    @app.post("/api/gan/walk.gif")
    def walk_gif_route(req: WalkGifRequest) -> Response:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", f"walk-{Path(req.model).name[-40:]}-seed{req.seed}.gif")
        return Response(walk_gif(gan, req), media_type="image/gif",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @app.get("/api/test-images")
    def test_images(offset: int = Query(0, ge=0, le=10**6), n: int = Query(24, ge=1, le=200)) -> dict[str, Any]:
        data = classifiers.test_set()
        idx = range(offset, min(offset + n, len(data)))
        return {"total": len(data), "images": [{"index": i, "label": data.class_names[int(data.labels[i])]}
                                               for i in idx], "classes": list(data.class_names)}

    @app.get("/api/test-image/{index}.png")
    def test_image(index: int) -> Response:
        from genlens.web.images import png_bytes

        img, _ = classifiers.test_image(index)
        return Response(png_bytes(img, upscale=2), media_type="image/png",
                        headers={"Cache-Control": "private, max-age=3600"})

    @app.post("/api/upload")
    async def upload(request: Request) -> dict[str, Any]:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_UPLOAD_BYTES):
            raise HTTPException(413, "upload is over 10 MB; send a smaller PNG or JPEG")
        blob = bytearray()
        async for chunk in request.stream():
            blob += chunk
            if len(blob) > MAX_UPLOAD_BYTES:
                raise HTTPException(413, "upload is over 10 MB; send a smaller PNG or JPEG")
        key = await asyncio.get_running_loop().run_in_executor(None, cam.add_upload, bytes(blob))
        return {"image": f"upload:{key}"}

    @app.post("/api/cam")
    def cam_route(req: CamRequest) -> dict[str, Any]:
        return cam.run(req)

    @app.get("/api/inversions/grid")
    def inversions_grid() -> dict[str, Any]:
        return inversions.grid()

    @app.get("/api/inversions/cell")
    def inversions_cell(model: str = Query(max_length=512), method: str = Query(max_length=32),
                        cls: str = Query(alias="class", max_length=64)) -> dict[str, Any]:
        return inversions.cell(model, method, cls)

    @app.get("/api/units/layers")
    def unit_layers(model: str = Query(max_length=512)) -> dict[str, Any]:
        return {"model": model, "layers": units.layers(model),
                "classes": list(classifiers.handle(model).class_names)}

    @app.get("/api/units/unit")
    def unit_info(model: str = Query(max_length=512), layer: str = Query(max_length=256),
                  unit: int = Query(ge=0, le=1 << 20)) -> dict[str, Any]:
        return units.unit(model, layer, unit)

    @app.get("/api/units/vis.png")
    def unit_vis(model: str = Query(max_length=512), layer: str = Query(max_length=256),
                 unit: int = Query(ge=0, le=1 << 20)) -> Response:
        return Response(units.vis_png(model, layer, unit), media_type="image/png")

    # --- the interactive socket -------------------------------------------------------------------
    def parse_gan(data: dict[str, Any]) -> GanRequest:
        req = GanRequest.model_validate(data)
        gan.check(req.model)
        return req

    def parse_diffusion(data: dict[str, Any]) -> DiffusionRequest:
        req = DiffusionRequest.model_validate(data)
        diffusion.check(req.model)
        return req

    def parse_invert(data: dict[str, Any]) -> InvertRequest:
        req = InvertRequest.model_validate(data)
        if req.what != "prompt":
            classifiers.handle(req.model)  # one line naming the explorer's classifiers when unknown
        return req

    # renders are looked up per call, so tests may replace them
    kinds = {"gan": Kind(parse_gan, lambda req, _emit, _cancelled: gan.render(req)),
             "diffusion": Kind(parse_diffusion, lambda req, emit, cancelled: diffusion.run(req, emit, cancelled),
                               streaming=True),
             "invert": Kind(parse_invert, lambda req, emit, cancelled: inversions.run(req, emit, cancelled),
                            streaming=True)}
    app.state.kinds = kinds

    @app.websocket("/ws")
    async def socket(ws: WebSocket) -> None:
        if len(app.state.clients) >= config.max_clients:
            await ws.close(code=1013, reason="too many explorer pages open; close one")
            return
        await ws.accept()
        await serve_socket(ws, kinds, executor=pool, one_line=one_line, clients=app.state.clients)

    app.state.pool = pool
    app.add_middleware(GuardMiddleware, guard=guard)
    return app
