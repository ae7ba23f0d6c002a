"""The diffusion panel over the socket: streamed steps (x_t and x̂0), the final image, anchors, cancel, bad input."""
from __future__ import annotations

import io
import json

import pytest
from captioned_data import CAPTIONS, captioned_folder, train_text_folder, use_seeded_text
from PIL import Image
from test_web_api import TOKEN, WS, split_frame

from genlens.errors import GenlensError


def receive(ws) -> tuple[dict, dict[str, bytes]]:
    msg = ws.receive()
    if msg.get("bytes") is not None:
        return split_frame(msg["bytes"])
    return json.loads(msg["text"]), {}


def run_until_final(ws, rid: int) -> list[tuple[dict, dict[str, bytes]]]:
    got = []
    while True:
        header, parts = receive(ws)
        assert "error" not in header, header
        if header.get("id") == rid:
            got.append((header, parts))
            if header.get("final") or header.get("cancelled"):
                return got


def test_diffusion_streams_every_step_then_the_final_image(client):
    info = client.get("/api/diffusion/info", params=TOKEN | {"model": "fmnist-ddpm"}).json()
    assert info["cond"] == "class" and "Sneaker" in info["classes"] and info["recommended"]["sampler"] == "ddim"
    with client.websocket_connect(WS + "?token=test-token") as ws:
        ws.send_text(json.dumps({"type": "diffusion", "id": 7, "model": "fmnist-ddpm", "class": "Sneaker",
                                 "steps": 3, "seed": 1}))
        got = run_until_final(ws, 7)
    start, steps, (final, image) = got[0][0], got[1:-1], got[-1]
    assert start["kind"] == "start" and start["total"] == 3 and start["anchors"] == []
    assert [h["step"] for h, _ in steps] == [1, 2, 3]
    assert all(set(p) == {"x_t", "x0"} for _, p in steps)
    assert Image.open(io.BytesIO(steps[0][1]["x_t"])).size == (28, 28)
    assert steps[0][1]["x_t"] != steps[-1][1]["x_t"]  # the noise goes away step by step
    assert final["final"] and Image.open(io.BytesIO(image["image"])).size == (28, 28)


def test_a_newer_run_or_a_cancel_stops_the_run_in_flight(client):
    with client.websocket_connect(WS + "?token=test-token") as ws:
        ws.send_text(json.dumps({"type": "diffusion", "id": 1, "model": "fmnist-ddpm", "class": "Bag", "steps": 100}))
        ws.send_text(json.dumps({"type": "diffusion", "id": 2, "model": "fmnist-ddpm", "class": "Bag", "steps": 2}))
        seen = {}
        while 2 not in seen or not seen[2].get("final"):
            header, _ = receive(ws)
            if header.get("cancelled") or header.get("final"):
                seen[header["id"]] = header
        assert seen[1].get("cancelled") or 1 not in seen  # replaced before or while it ran, never finished
        ws.send_text(json.dumps({"type": "diffusion", "id": 3, "model": "fmnist-ddpm", "class": "Bag", "steps": 100}))
        header, _ = receive(ws)  # its start
        ws.send_text(json.dumps({"type": "cancel", "what": "diffusion"}))
        assert run_until_final(ws, 3)[-1][0]["cancelled"]


def test_diffusion_bad_input_is_one_line_and_the_socket_keeps_serving(client):
    with client.websocket_connect(WS + "?token=test-token") as ws:
        for msg, words in (({"steps": 0, "class": "Bag"}, "steps"), ({"class": "Spaceship"}, "Spaceship"),
                           ({"prompt": "a red bag"}, "class-conditional"), ({}, "one of 'class'"),
                           ({"class": "Bag", "sampler": "euler"}, "sampler")):
            ws.send_text(json.dumps({"type": "diffusion", "id": 5, "model": "fmnist-ddpm", **msg}))
            header, _ = receive(ws)
            assert words in header["error"] and "\n" not in header["error"], header
        ws.send_text(json.dumps({"type": "diffusion", "id": 6, "model": "fmnist-ddpm", "class": "Bag", "steps": 1}))
        assert run_until_final(ws, 6)[-1][0]["final"]
    r = client.get("/api/diffusion/info", params=TOKEN | {"model": "nope"})
    assert r.status_code == 400 and "fmnist-ddpm" in r.json()["error"]


def test_a_prompt_shows_the_training_captions_it_was_anchored_to(client):
    with client.websocket_connect(WS + "?token=test-token") as ws:
        ws.send_text(json.dumps({"type": "diffusion", "id": 1, "model": "fmnist-ddpm-text", "prompt": "a" + " b" * 80}))
        assert "limit" in receive(ws)[0]["error"]  # over the encoder's limit: the CLI's message
        ws.send_text(json.dumps({"type": "diffusion", "id": 2, "model": "fmnist-ddpm-text",
                                 "prompt": "a leather ankle boot", "steps": 1, "anchors": 3}))
        got = run_until_final(ws, 2)
    anchors = got[0][0]["anchors"]
    assert len(anchors) == 3 and anchors[0]["class"] == "Ankle boot" and "boot" in anchors[0]["caption"]
    assert got[-1][0]["final"]


def test_a_text_model_of_its_own_captions_offers_them_as_prompts_and_no_classes(cli, tmp_path, monkeypatch):
    from genlens.web.panels.diffusion import DiffusionPanel, DiffusionRequest

    use_seeded_text(monkeypatch, tmp_path)
    name = str(tmp_path / "m")
    train_text_folder(cli, captioned_folder(tmp_path / "photos"), name)
    panel = DiffusionPanel([name])
    info = panel.info(name)
    assert info["captions_from"] == "images" and info["classes"] == [] and info["recommended"]["anchors"] == 0
    assert info["prompts"] == [c for c in CAPTIONS if c]  # the page starts from the model's own first caption
    headers = []
    out = panel.run(DiffusionRequest(model=name, prompt=info["prompts"][0], steps=1),
                    lambda header, parts: headers.append(header), lambda: False)
    assert headers[0]["anchors"] == [] and Image.open(io.BytesIO(out["parts"]["image"])).size == (32, 32)
    with pytest.raises(GenlensError, match="own captions, not on classes; send a prompt") as err:
        panel.run(DiffusionRequest.model_validate({"model": name, "class": "photos"}), lambda h, p: None, lambda: False)
    assert "\n" not in str(err.value)


def test_a_layout_model_takes_items_and_redraws_with_the_same_noise(tmp_path):
    import torch

    from genlens.data.fashion_mnist import CLASS_NAMES
    from genlens.diffusion import Denoiser, DiffusionTrainConfig, UNetConfig, save_diffusion
    from genlens.web.models import sort_models
    from genlens.web.panels.diffusion import DiffusionPanel, DiffusionRequest

    torch.manual_seed(0)
    cfg = DiffusionTrainConfig(unet=UNetConfig.tiny("layout", num_classes=10, max_items=3, pad=0), steps=1,
                               data="fashion-scenes")
    name = str(save_diffusion(tmp_path / "lay", Denoiser(cfg.unet).eval(), config=cfg, class_names=CLASS_NAMES,
                              command="test", metrics={}))
    assert sort_models([name]).diffusion == [name]  # a layout folder is a diffusion model of the explorer
    panel = DiffusionPanel([name])
    info = panel.info(name)
    assert info["cond"] == "layout" and info["layout"]["max_items"] == 3
    assert [CLASS_NAMES[it["cls"]] for it in info["layout"]["items"]] == ["Sneaker", "Bag"]

    def image(**req) -> bytes:
        return panel.run(DiffusionRequest.model_validate({"model": name, "steps": 2, "seed": 3, **req}),
                         lambda h, p: None, lambda: False)["parts"]["image"]

    default = image()
    assert image(items=info["layout"]["items"]) == default  # no items: the default layout, same seed, same image
    moved = [dict(info["layout"]["items"][0], x=0.8, y=0.2), info["layout"]["items"][1]]
    assert image(items=moved) != default  # the layout reaches the image
    assert Image.open(io.BytesIO(default)).size == (32, 32)
    for bad, match in (({"items": [{"cls": 10, "x": 0.5, "y": 0.5}]}, "class"),
                       ({"items": [{"cls": 1, "x": 0.1 * i, "y": 0.5} for i in range(4)]}, "3"),
                       ({"class": "Bag"}, "draws layouts; send 'items'")):
        with pytest.raises(GenlensError, match=match) as err:
            image(**bad)
        assert "\n" not in str(err.value)
    with pytest.raises(GenlensError, match="takes no layout items"):
        DiffusionPanel(["fmnist-ddpm"]).condition(
            DiffusionRequest.model_validate({"model": "fmnist-ddpm", "class": "Bag", "items": []}),
            DiffusionPanel(["fmnist-ddpm"]).pipeline("fmnist-ddpm"))
