"""The peer baselines of bench/inversion.py on a tiny model: the RGB->gray wrapper, each peer's runner
(skipped when its library is missing), the default method list, and the table's peer rows."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from genlens.models.handle import ModelHandle

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(autouse=True)
def bench_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))


def tiny_handle() -> ModelHandle:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
                          nn.Linear(64, 10))
    return ModelHandle(model=model.eval(), name="tiny", mean=(0.3,), std=(0.4,), input_size=(1, 28, 28),
                       class_names=tuple(f"c{i}" for i in range(10)))


def test_rgb_to_gray_gives_the_logits_of_the_gray_image():
    from peers.gray import RGBToGray

    h = tiny_handle()
    wrapped = RGBToGray(h)
    gray = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(wrapped(gray.expand(-1, 3, -1, -1)), h(gray), atol=1e-6)
        rgb = torch.rand(3, 3, 28, 28)  # colour: the model sees the channel mean
        assert torch.allclose(wrapped(rgb), h(rgb.mean(1, keepdim=True)), atol=1e-6)
        big = torch.rand(3, 1, 56, 56)  # another size: the handle resizes to 28 px
        assert torch.allclose(wrapped(big.expand(-1, 3, -1, -1)), h(big), atol=1e-6)
    assert wrapped.calls == 3


def test_peer_model_restores_the_classifier():
    from peers.gray import peer_model

    h = tiny_handle()
    h.model.train()
    with peer_model(h) as m:
        m.logits.register_forward_hook(lambda *a: None)
        h.model[0].register_forward_hook(lambda *a: None)
        assert not h.model.training and not any(p.requires_grad for p in h.model.parameters())
    assert h.model.training and all(p.requires_grad for p in h.model.parameters())
    assert not any(mod._forward_hooks for mod in m.modules())


@pytest.mark.parametrize("peer, module", [("lucent", "lucent"), ("torch-dreams", "torch_dreams")])
def test_peer_inverts_ten_classes(peer, module):
    pytest.importorskip(module)
    from peers import PEERS

    h = tiny_handle()
    config = dataclasses.replace(PEERS[peer].config, steps=3)
    images, steps = PEERS[peer].run(h, torch.arange(10), config=config, seed=1)
    assert images.shape == (10, 1, 28, 28) and steps == 3
    assert torch.isfinite(images).all() and 0 <= images.min() and images.max() <= 1
    assert images.std() > 0  # not a constant canvas
    again, _ = PEERS[peer].run(h, torch.arange(10), config=config, seed=1)
    assert torch.equal(images, again)  # the peers' global RNGs are seeded
    assert not any(mod._forward_hooks for mod in h.model.modules())
    assert all(p.requires_grad for p in h.model.parameters())


def test_lucent_kornia_aliases_are_temporary():
    kornia = pytest.importorskip("kornia")
    pytest.importorskip("lucent")
    from peers.lucent_peer import kornia_aliases

    had = hasattr(kornia, "warp_affine")
    with kornia_aliases():
        assert callable(kornia.warp_affine) and callable(kornia.get_rotation_matrix2d)
    assert hasattr(kornia, "warp_affine") == had


def test_default_methods_are_ours_plus_installed_peers(monkeypatch):
    import inversion

    monkeypatch.setattr(inversion, "installed", lambda name: name == "torch-dreams")
    assert inversion.parse_args([]).methods == [*inversion.OURS, "torch-dreams"]
    with pytest.raises(SystemExit):
        inversion.parse_args(["--methods", "pii", "lucent"])  # asked for, not installed: says how to install
    assert inversion.parse_args(["--seeds", "0", "1", "2"]).seeds == [0, 1, 2]


def _row(top1: float, speed: float, seeds: list[int]) -> dict:
    one = {"status": "ok", "cross_top1": top1, "cross_top5": 1.0, "own_top1": 1.0, "images_per_cpu_s": speed,
           "inception_score": {"mean": 1.5, "std": 0.1}, "wall_s": 2.0, "judges": {"a": {}, "b": {}}}
    return {**one, "seeds": seeds, "per_seed": [{**one, "seed": s} for s in seeds], "wall_s_total": 2.0 * len(seeds)}


def test_table_renders_peer_rows_seeds_and_speed_ratio():
    import inversion
    from table import inversion_table

    seeds = [0, 1, 2]
    methods = {}
    for name, top1, speed in [("pii", 0.8, 0.2), ("lucent", 0.3, 0.1), ("torch-dreams", 0.2, 0.4)]:
        per_arch = {"fmnist-cnn": _row(top1, speed, seeds)}
        methods[name] = {"per_arch": per_arch, "summary": inversion.summarize(per_arch), "peer": name != "pii"}
    result = {"benchmark": "inversion", "judges": ["a", "b"], "wall_seconds": 9.0, "methods": methods,
              "config": {"seed": 0, "seeds": seeds, "budget_steps": 150, "ensemble": 4,
                         "peers": ["lucent", "torch-dreams"]},
              "env": {"cpu": "cpu", "torch_threads": 1, "torch": "2", "date": "2026-11-30"}}
    table = inversion_table(result)
    assert "| lucent | fmnist-cnn | 3 | 30 % |" in table and "| 2.00x |" in table  # pii 2x as fast as lucent
    assert "| torch-dreams | fmnist-cnn | 3 | 20 % |" in table and "| 0.50x |" in table
    assert "| **lucent** | **mean of 1 pairs** |" in table and "seeds 0, 1, 2" in table
    pii_row = next(line for line in table.splitlines() if line.startswith("| pii | fmnist-cnn"))
    assert "x |" not in pii_row  # the ratio is for peers only

    old = {**result, "config": {"seed": 0, "budget_steps": 150, "ensemble": 4}}  # schema 1: one seed, no peers
    old["methods"] = {"pii": {"per_arch": {"fmnist-cnn": {k: v for k, v in _row(0.8, 0.2, [0]).items()
                                                          if k not in ("seeds", "per_seed", "wall_s_total")}},
                              "summary": {"pairs": 3, "cross_top1_mean": 0.8, "cross_top5_mean": 1.0,
                                          "own_top1_mean": 1.0, "wall_s": 2.0}}}
    assert "| pii | fmnist-cnn | 1 | 80 % |" in inversion_table(old)
