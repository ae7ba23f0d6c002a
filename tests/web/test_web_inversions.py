"""The inversions panel: cached grid cells judged by the other classifiers, and background jobs with progress and
cancel over the socket. Tiny step counts (steps_scale) keep each inversion to a second or two."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import PORT, make_config
from test_web_api import TOKEN, WS
from test_web_diffusion import receive, run_until_final


@pytest.fixture
def inv_client(tmp_path: Path, fmnist_dir: Path):
    from fastapi.testclient import TestClient

    from genlens.web import create_app

    config = replace(make_config(tmp_path, data_dir=fmnist_dir), classifiers=("fmnist-cnn", "fmnist-resmlp"),
                     inversion_steps_scale=0.005, inversion_n=1)
    with TestClient(create_app(config), base_url=f"http://127.0.0.1:{PORT}") as c:
        yield c


def test_grid_cells_are_judged_by_the_other_models_and_cached_in_the_user_folder(inv_client, tmp_path):
    grid = inv_client.get("/api/inversions/grid", params=TOKEN).json()
    assert grid["cells"] == [] and grid["methods"] == ["pii", "deepdream", "deepinversion"]
    assert "Sneaker" in grid["classes"] and grid["models"] == ["fmnist-cnn", "fmnist-resmlp"]
    q = TOKEN | {"model": "fmnist-cnn", "method": "deepdream", "class": "sneaker"}
    cell = inv_client.get("/api/inversions/cell", params=q).json()
    assert not cell["cached"] and cell["class"] == "Sneaker" and list(cell["judges"]) == ["fmnist-resmlp"]
    assert 0 <= cell["accuracy"] <= 1 and cell["image"].startswith("data:image/png;base64,")
    assert len(list((tmp_path / "inversions").glob("*.json"))) == 1
    again = inv_client.get("/api/inversions/cell", params=q).json()
    assert again["cached"] and again["image"] == cell["image"]
    assert len(inv_client.get("/api/inversions/grid", params=TOKEN).json()["cells"]) == 1
    for bad, words in (({"method": "magic"}, "deepdream"), ({"class": "Spaceship"}, "Spaceship"),
                       ({"model": "nope"}, "fmnist-cnn")):
        r = inv_client.get("/api/inversions/cell", params=q | bad)
        assert r.status_code == 400 and words in r.json()["error"], r.text


def test_a_background_inversion_reports_progress_and_can_be_cancelled(inv_client):
    with inv_client.websocket_connect(WS + "?token=test-token") as ws:
        ws.send_text(json.dumps({"type": "invert", "id": 1, "what": "class", "model": "fmnist-cnn",
                                 "method": "pii", "class": "Bag", "steps_scale": 0.01}))
        got = run_until_final(ws, 1)
        steps = [h["step"] for h, _ in got if h.get("kind") == "progress"]
        assert steps == list(range(1, steps[-1] + 1)) and steps[-1] == got[-2][0]["total"]
        assert any("preview" in p for _, p in got)
        record = got[-1][0]["record"]
        assert record["class"] == "Bag" and list(record["judges"]) == ["fmnist-resmlp"]
        ws.send_text(json.dumps({"type": "invert", "id": 2, "what": "class", "model": "fmnist-cnn",
                                 "method": "pii", "class": "Bag", "steps_scale": 1.0}))
        receive(ws)  # its first progress frame: it is running
        ws.send_text(json.dumps({"type": "cancel", "what": "invert"}))
        assert run_until_final(ws, 2)[-1][0]["cancelled"]
        ws.send_text(json.dumps({"type": "invert", "id": 3, "what": "unit", "model": "fmnist-cnn",
                                 "layer": "stages.2.0.act", "unit": 3, "steps_scale": 0.005}))
        assert run_until_final(ws, 3)[-1][0]["record"]["unit"] == 3
        for msg, words in (({"what": "unit", "layer": "nope", "unit": 1}, "nope"),
                           ({"what": "prompt", "prompt": ""}, "prompt"), ({"model": "fmnist-vit"}, "fmnist-cnn"),
                           ({"steps_scale": 0}, "steps_scale")):
            ws.send_text(json.dumps({"type": "invert", "id": 4, "steps_scale": 0.005, **msg}))
            header, _ = receive(ws)
            assert words in header["error"] and "\n" not in header["error"], header


def test_a_prompt_inverts_through_the_clip_model(inv_client):
    with inv_client.websocket_connect(WS + "?token=test-token") as ws:
        ws.send_text(json.dumps({"type": "invert", "id": 1, "what": "prompt", "prompt": "a leather ankle boot",
                                 "steps_scale": 0.01}))
        record = run_until_final(ws, 1)[-1][0]["record"]
    assert record["model"] == "fmnist-clip" and -1 <= record["similarity"] <= 1
