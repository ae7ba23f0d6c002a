"""The explorer's HTTP API and WebSocket in-process (FastAPI's TestClient): safety first, then panels."""
from __future__ import annotations

import io
import json
import struct
import time

import pytest
from PIL import Image
from starlette.websockets import WebSocketDisconnect

TOKEN = {"token": "test-token"}
WS = "ws://127.0.0.1:8765/ws"  # absolute: TestClient would send Host "testserver" otherwise


def png(w: int, h: int, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("L", (w, h), 128).save(buf, format=fmt)
    return buf.getvalue()


def split_frame(blob: bytes) -> tuple[dict, dict[str, bytes]]:
    (n,) = struct.unpack(">I", blob[:4])
    header = json.loads(blob[4 : 4 + n])
    parts, at = {}, 4 + n
    for name, length in header["parts"]:
        parts[name] = blob[at : at + length]
        at += length
    return header, parts


# --- safety ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("params, headers", [({}, {}), ({"token": "wrong"}, {}), ({}, {"X-Genlens-Token": "nope"})])
def test_api_without_the_right_token_is_403(client, params, headers):
    r = client.get("/api/models", params=params, headers=headers)
    assert r.status_code == 403
    assert "token" in r.json()["error"] and "\n" not in r.json()["error"]


def test_token_in_query_or_header_is_accepted(client):
    assert client.get("/api/models", params=TOKEN).json()["gans"][0] == "fmnist-eqgan"
    assert client.get("/api/models", headers={"X-Genlens-Token": "test-token"}).status_code == 200


def test_dns_rebinding_host_and_foreign_origin_are_refused(client):
    r = client.get("/api/models", params=TOKEN, headers={"Host": "attacker.example:8765"})
    assert r.status_code == 403 and "Host" in r.json()["error"]
    r = client.get("/", headers={"Host": "attacker.example:8765"})  # the page itself too
    assert r.status_code == 403
    r = client.get("/api/models", params=TOKEN, headers={"Origin": "http://attacker.example"})
    assert r.status_code == 403 and "cross-origin" in r.json()["error"]
    assert client.get("/api/models", params=TOKEN, headers={"Origin": "http://localhost:8765"}).status_code == 200


def test_websocket_needs_token_and_our_origin(client):
    for query, headers, words in (("", {}, "token"), ("?token=bad", {}, "token"),
                                  ("?token=test-token", {"Origin": "http://evil.example"}, "cross-origin")):
        with pytest.raises(WebSocketDisconnect) as exc, client.websocket_connect(WS + query, headers=headers):
            pass
        assert exc.value.code == 1008 and words in exc.value.reason
    with client.websocket_connect(WS + "?token=test-token", headers={"Origin": "http://127.0.0.1:8765"}) as ws:
        ws.send_text(json.dumps({"type": "stats"}))
        assert json.loads(ws.receive_text())["stats"]["submitted"] == 0


@pytest.mark.parametrize("path", ["/static/../server.py", "/static/%2e%2e/server.py", "/static/..%2fserver.py",
                                  "/static//etc/passwd", "/static/panels/../../server.py", "/static/nope.js"])
def test_static_files_never_escape_the_static_folder(client, path):
    r = client.get(path)
    assert r.status_code == 404
    assert "import" not in r.text


def test_the_page_and_its_modules_are_served_without_the_network(client):
    page = client.get("/").text
    assert "/static/app.js" in page and "http" not in page.replace("http-equiv", "")
    for name in ("app.js", "gan.js", "gan_layout.js", "drag.js", "diffusion.js", "cam.js", "units.js", "inversions.js", "style.css"):
        body = client.get(f"/static/{name}").text
        assert "https://" not in body and "http://" not in body


def test_malformed_json_and_out_of_range_parameters_are_one_line_4xx(client):
    r = client.post("/api/cam", params=TOKEN, content=b"{bad", headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and "malformed JSON" in r.json()["error"]
    r = client.get("/api/gan/info", params=TOKEN | {"model": "fmnist-eqgan", "seed": -3})
    assert r.status_code == 422 and "seed" in r.json()["error"]
    r = client.get("/api/gan/info", params=TOKEN | {"model": "no-such-gan"})
    assert r.status_code == 400 and "fmnist-eqgan" in r.json()["error"]
    r = client.get("/api/test-image/999999.png", params=TOKEN)
    assert r.status_code == 400 and "0..9999" in r.json()["error"]
    assert client.get("/api/models", params=TOKEN).status_code == 200  # still serving


@pytest.mark.parametrize("blob, status, words", [
    (b"this is not an image", 400, "not a readable image"),
    (None, 400, "4096x4096"),
    (b"\0" * (10 * 1024 * 1024 + 1), 413, "10 MB"),
])
def test_bad_uploads_are_refused_in_one_line(client, blob, status, words):
    if blob is None:
        blob = png(4097, 8)
    r = client.post("/api/upload", params=TOKEN, content=blob, headers={"Content-Type": "image/png"})
    assert r.status_code == status and words in r.json()["error"]
    assert "\n" not in r.json()["error"]


def test_upload_then_cam(client):
    ref = client.post("/api/upload", params=TOKEN, content=png(40, 30, "JPEG")).json()["image"]
    r = client.post("/api/cam", params=TOKEN, json={"model": "fmnist-cnn", "image": ref, "target": "Sneaker"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["target"]["name"] == "Sneaker" and body["overlay"].startswith("data:image/png;base64,")
    assert abs(sum(p["p"] for p in body["probabilities"]) - 1) < 0.01


def test_cam_on_a_test_image_explains_the_predicted_class(client):
    body = client.post("/api/cam", params=TOKEN, json={"model": "fmnist-cnn", "image": "test:0"}).json()
    assert body["target"] == body["predicted"]
    r = client.post("/api/cam", params=TOKEN, json={"model": "fmnist-cnn", "image": "test:0", "alpha": 3})
    assert r.status_code == 422 and "alpha" in r.json()["error"]


# --- GAN over the socket --------------------------------------------------------------------------
def test_gan_socket_sends_binary_png_frames_and_recovers_from_bad_messages(client):
    with client.websocket_connect(WS + "?token=test-token") as ws:
        ws.send_text("{not json")
        assert "error" in json.loads(ws.receive_text())
        ws.send_text(json.dumps({"type": "gan", "id": 1, "model": "fmnist-eqgan", "psi": 7}))
        err = json.loads(ws.receive_text())
        assert err["id"] == 1 and "psi" in err["error"]
        # outside the canvas: clamped to the top-right corner, never an error
        blobs = [{"level": lv, "x": 1.7, "y": -0.2, "sigma": 0.3} for lv in (1, 2, 3)]
        ws.send_text(json.dumps({"type": "gan", "id": 2, "model": "fmnist-eqgan", "seed": 3, "blobs": blobs,
                                 "baseline": "fmnist-gan", "t0": 12.5}))
        header, parts = split_frame(ws.receive_bytes())
        assert header["id"] == 2 and header["t0"] == 12.5
        assert set(parts) == {"image", "heat", "baseline"}
        for blob in parts.values():
            assert Image.open(io.BytesIO(blob)).size == (32, 32)
        alpha = Image.open(io.BytesIO(parts["heat"])).getchannel("A")  # the heatmap's strength
        assert alpha.getpixel((31, 0)) == 255 and alpha.getpixel((0, 31)) < 20


def test_dragged_blob_moves_the_heatmap_and_changes_the_image(client):
    info = client.get("/api/gan/info", params=TOKEN | {"model": "fmnist-eqgan", "seed": 1}).json()
    assert info["heatmaps"] and [b["level"] for b in info["blobs"]] == [1, 2, 2, 3, 3, 3, 3]
    frames = []
    with client.websocket_connect(WS + "?token=test-token") as ws:
        for i, x in enumerate((0.2, 0.8)):
            blobs = [dict(b, x=min(1, max(0, b["x"] - 0.5 + x))) for b in info["blobs"]]
            ws.send_text(json.dumps({"type": "gan", "id": i, "model": "fmnist-eqgan", "seed": 1, "blobs": blobs}))
            frames.append(split_frame(ws.receive_bytes())[1])
    assert frames[0]["image"] != frames[1]["image"]
    left, right = (Image.open(io.BytesIO(f["heat"])).getchannel("A") for f in frames)
    col_mass = [sum(im.getpixel((x, y)) * x for x in range(32) for y in range(32)) /
                max(1, sum(im.getpixel((x, y)) for x in range(32) for y in range(32))) for im in (left, right)]
    assert col_mass[1] > col_mass[0] + 3  # the heatmap followed the blob to the right


def test_newest_request_wins_over_the_socket(client, app, monkeypatch):
    real = app.state.gan.render

    def slow(req):
        time.sleep(0.15)
        return real(req)

    monkeypatch.setattr(app.state.gan, "render", slow)
    with client.websocket_connect(WS + "?token=test-token") as ws:
        for i in range(12):
            ws.send_text(json.dumps({"type": "gan", "id": i, "model": "fmnist-gan", "px": i / 12}))
        ids = []
        while not ids or ids[-1] != 11:
            ids.append(split_frame(ws.receive_bytes())[0]["id"])
        ws.send_text(json.dumps({"type": "stats"}))
        stats = json.loads(ws.receive_text())["stats"]
    assert ids[0] == 0 and ids[-1] == 11 and len(ids) < 12
    assert stats["submitted"] == 12 and stats["dropped"] == 12 - len(ids)


# --- units ----------------------------------------------------------------------------------------
def test_units_layers_unit_and_cached_visualisation(client, tmp_path):
    layers = client.get("/api/units/layers", params=TOKEN | {"model": "fmnist-cnn"}).json()["layers"]
    layer = layers[-1]
    assert layer["units"] > 0 and 0 <= layer["dead"] <= layer["units"]
    q = TOKEN | {"model": "fmnist-cnn", "layer": layer["layer"], "unit": 2}
    unit = client.get("/api/units/unit", params=q).json()
    assert len(unit["top"]) == 9 and isinstance(unit["dead"], bool)
    acts = [t["activation"] for t in unit["top"]]
    assert acts == sorted(acts, reverse=True)
    r = client.get("/api/units/vis.png", params=q)
    assert r.status_code == 200 and r.content.startswith(b"\x89PNG")
    assert len(list(tmp_path.glob("units/*.png"))) == 1  # cached on disk
    t = time.perf_counter()
    assert client.get("/api/units/vis.png", params=q).content == r.content
    assert time.perf_counter() - t < 1.0  # the second time comes from the cache
    r = client.get("/api/units/unit", params=q | {"unit": layer["units"]})
    assert r.status_code == 400 and "unit in 0.." in r.json()["error"]


def test_blobs_can_be_added_and_removed_and_d_cam_comes_on_request(client):
    info = client.get("/api/gan/info", params=TOKEN | {"model": "fmnist-eqgan", "seed": 2}).json()
    assert info["dcam"] and not info["fixed_counts"]
    extra = info["blobs"] + [{"level": 2, "x": 0.9, "y": 0.1, "sigma": 0.3}, {"level": 3, "x": 5, "y": -1, "sigma": 0.1}]
    images = []
    with client.websocket_connect(WS + "?token=test-token") as ws:
        for i, blobs in enumerate((info["blobs"], extra, [], info["blobs"][:1])):
            ws.send_text(json.dumps({"type": "gan", "id": i, "model": "fmnist-eqgan", "seed": 2, "blobs": blobs,
                                     "dcam": i == 0}))
            header, parts = split_frame(ws.receive_bytes())
            assert header["id"] == i and ("dcam" in parts) == (i == 0)
            if i == 0:  # D's Grad-CAM as an RGBA overlay whose alpha is the CAM's strength
                cam = Image.open(io.BytesIO(parts["dcam"]))
                assert cam.size == (32, 32) and cam.mode == "RGBA" and cam.getchannel("A").getextrema()[1] == 255
            images.append(parts["image"])
    assert len(set(images)) == 4  # each blob set draws its own image


def test_raw_frames_hold_the_same_pixels_as_the_png_ones(client):
    blobs = [{"level": lv, "x": 0.3, "y": 0.6, "sigma": 0.3} for lv in (1, 2, 3)]
    frames = {}
    with client.websocket_connect(WS + "?token=test-token") as ws:
        for i, encoding in enumerate(("png", "raw")):
            ws.send_text(json.dumps({"type": "gan", "id": i, "model": "fmnist-eqgan", "seed": 4, "blobs": blobs,
                                     "baseline": "fmnist-gan", "dcam": True, "encoding": encoding}))
            frames[encoding] = split_frame(ws.receive_bytes())
        ws.send_text(json.dumps({"type": "gan", "id": 2, "model": "fmnist-eqgan", "encoding": "webm"}))
        assert "encoding" in json.loads(ws.receive_text())["error"]
    (png_header, pngs), (raw_header, raws) = frames["png"], frames["raw"]
    assert "raw" not in png_header and set(raw_header["raw"]) == set(raws) == set(pngs) == {"image", "heat", "baseline", "dcam"}
    for name, (c, h, w) in raw_header["raw"].items():
        decoded = Image.open(io.BytesIO(pngs[name]))
        assert (c, h, w) == (len(decoded.getbands()), decoded.height, decoded.width)
        assert raws[name] == decoded.tobytes()  # rows, channels last: what the page puts in an ImageData
