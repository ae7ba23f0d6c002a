"""The GAN panel on a layout generator (scenes-gan-layout) in-process: layout items over the socket, their checks,
the default layout, the GIF export, and the shipped list that offers the model."""
from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from test_web_api import TOKEN, WS, split_frame

MODEL = "scenes-gan-layout"


def alpha_centroid_x(png: bytes) -> float:
    alpha = Image.open(io.BytesIO(png)).getchannel("A")
    w, h = alpha.size
    mass = [(x, alpha.getpixel((x, y))) for x in range(w) for y in range(h)]
    return sum(x * a for x, a in mass) / max(1, sum(a for _, a in mass))


def test_explore_without_models_offers_the_layout_gan(client, monkeypatch, tmp_path):
    import genlens.gan.io as gan_io
    from genlens.errors import GenlensError
    from genlens.web.models import sort_models

    assert MODEL in sort_models([]).gans and sort_models([MODEL]).gans == [MODEL]
    assert MODEL in client.get("/api/models", params=TOKEN).json()["gans"]
    monkeypatch.setattr(gan_io, "WEIGHTS_ROOT", tmp_path)  # nothing trained on fashion-scenes here
    assert not any(name.startswith("scenes-") for name in sort_models([]).gans)
    with pytest.raises(GenlensError, match="genlens gan train --arch layout"):
        sort_models([MODEL])


def test_info_gives_classes_item_limit_and_a_default_layout(client):
    info = client.get("/api/gan/info", params=TOKEN | {"model": MODEL, "seed": 5}).json()
    assert info["layout"] and not info["heatmaps"] and info["dcam"]  # its D ships: Grad-CAM with the layout
    assert info["max_items"] == 3 and len(info["class_names"]) == 10 and len(info["typical_sizes"]) == 3
    names = [info["class_names"][it["cls"]] for it in info["items"]]
    assert names == ["Sneaker", "Bag"] and all(0 < it["size"] <= 1 for it in info["items"])


def test_layout_frames_follow_a_moved_item_and_clamp_outside_centres(client):
    items = [{"cls": 7, "x": 0.2, "y": 0.5, "size": 0.4}, {"cls": 8, "x": 0.5, "y": 0.2, "size": 0.4}]
    frames = []
    with client.websocket_connect(WS + "?token=test-token") as ws:
        for i, x in enumerate((0.2, 0.8, 1.7, 1.0)):  # 1.7: outside the canvas, clamped, never an error
            moved = [dict(items[0], x=x), items[1]]
            ws.send_text(json.dumps({"type": "gan", "id": i, "model": MODEL, "seed": 1, "items": moved, "t0": 3.0}))
            header, parts = split_frame(ws.receive_bytes())
            assert header["id"] == i and set(parts) == {"image", "heat"}
            frames.append(parts)
        ws.send_text(json.dumps({"type": "gan", "id": 4, "model": MODEL, "seed": 1, "encoding": "raw"}))
        header, parts = split_frame(ws.receive_bytes())  # no items: the default layout
        assert header["raw"]["image"] == [1, 32, 32] and header["raw"]["heat"] == [4, 32, 32]
    assert Image.open(io.BytesIO(frames[0]["image"])).size == (32, 32)
    assert frames[0]["image"] != frames[1]["image"]  # moving the item redraws the scene
    assert frames[2] == frames[3]  # clamped to the edge
    left, right = (alpha_centroid_x(f["heat"]) for f in frames[:2])
    assert right > left + 2  # the layout overlay followed the item to the right


def test_bad_class_or_too_many_items_is_one_line_and_the_socket_keeps_serving(client):
    item = {"cls": 3, "x": 0.5, "y": 0.5}
    with client.websocket_connect(WS + "?token=test-token") as ws:
        for i, (items, words) in enumerate((([dict(item, cls=10)], "class 0..9"),
                                            ([item] * 4, "at most 3"),
                                            ([dict(item, x="nan")], "items.0.x"))):
            ws.send_text(json.dumps({"type": "gan", "id": i, "model": MODEL, "items": items}))
            err = json.loads(ws.receive_text())
            assert err["id"] == i and words in err["error"] and "\n" not in err["error"], err
        ws.send_text(json.dumps({"type": "gan", "id": 9, "model": MODEL, "items": [item] * 3}))
        assert split_frame(ws.receive_bytes())[0]["id"] == 9


def test_walk_gif_of_a_layout(client):
    body = {"model": MODEL, "seed": 2, "points": [[-0.5, 0], [0.5, 0]], "frames": 2,
            "items": [{"cls": 0, "x": 0.3, "y": 0.6}]}
    r = client.post("/api/gan/walk.gif", params=TOKEN, json=body)
    assert r.status_code == 200 and r.content.startswith(b"GIF8")
    r = client.post("/api/gan/walk.gif", params=TOKEN, json=body | {"items": [{"cls": 12, "x": 0.3, "y": 0.6}]})
    assert r.status_code == 400 and "use a class 0..9" in r.json()["error"]


def test_d_cam_of_a_layout_gan_judges_the_image_with_its_layout(client):
    items = [{"cls": 7, "x": 0.25, "y": 0.7, "size": 0.4}]
    with client.websocket_connect(WS + "?token=test-token") as ws:
        ws.send_text(json.dumps({"type": "gan", "id": 0, "model": MODEL, "seed": 1, "items": items, "dcam": True}))
        header, parts = split_frame(ws.receive_bytes())
    assert header["id"] == 0 and set(parts) == {"image", "heat", "dcam"}
    cam = Image.open(io.BytesIO(parts["dcam"]))
    assert cam.size == (32, 32) and cam.mode == "RGBA" and cam.getchannel("A").getextrema()[1] == 255
