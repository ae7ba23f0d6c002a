"""The latent walk: the line through two seeds, and a saved path exported as an animated GIF."""
from __future__ import annotations

import io
import json

from PIL import Image, ImageChops
from test_web_api import TOKEN, WS, split_frame


def render(ws, **msg) -> Image.Image:
    ws.send_text(json.dumps({"type": "gan", "model": "fmnist-gan", **msg}))
    return Image.open(io.BytesIO(split_frame(ws.receive_bytes())[1]["image"])).convert("L")


def test_the_line_through_two_seeds_starts_and_ends_at_them(client):
    with client.websocket_connect(WS + "?token=test-token") as ws:
        a, b = render(ws, seed=3), render(ws, seed=5)
        start, end = render(ws, seed=3, seed2=5, px=-1), render(ws, seed=3, seed2=5, px=1)
        mid = render(ws, seed=3, seed2=5, px=0)
    assert ImageChops.difference(a, start).getextrema()[1] <= 2
    assert ImageChops.difference(b, end).getextrema()[1] <= 2
    assert ImageChops.difference(a, mid).getextrema()[1] > 10 and ImageChops.difference(b, mid).getextrema()[1] > 10


def test_path_points_interpolate_and_clamp():
    from genlens.web.panels.walk import path_points

    assert path_points([(-1, 0), (1, 0)], 4, loop=False) == [(-1, 0), (-0.5, 0), (0, 0), (0.5, 0), (1, 0)]
    assert path_points([(-3, 0), (1, 2)], 1, loop=True) == [(-1, 0), (1, 1)]


def test_walk_gif_is_a_download_with_one_frame_per_step(client):
    body = {"model": "fmnist-eqgan", "seed": 1, "psi": 0.7, "points": [[-0.5, -0.5], [0.5, 0], [0, 0.8]], "frames": 3}
    r = client.post("/api/gan/walk.gif", params=TOKEN, json=body)
    assert r.status_code == 200 and r.headers["content-type"] == "image/gif"
    assert r.headers["content-disposition"].startswith('attachment; filename="walk-fmnist-eqgan-seed1.gif"')
    gif = Image.open(io.BytesIO(r.content))
    assert gif.n_frames == 7 and gif.size == (128, 128)
    for bad, status, words in (({"points": [[0, 0]]}, 422, "points"),
                               ({"frames": 60, "points": [[0, 0], [1, 1]] * 8}, 400, "limit is 400"),
                               ({"model": "nope"}, 400, "fmnist-eqgan")):
        r = client.post("/api/gan/walk.gif", params=TOKEN, json=body | bad)
        assert r.status_code == status and words in r.json()["error"], r.text
