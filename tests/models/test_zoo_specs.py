"""Every zoo architecture builds, maps 28x28 grayscale to 10 logits and exposes pre-logit features."""
from __future__ import annotations

import itertools

import pytest
import torch

from genlens.errors import GenlensError
from genlens.models.zoo import ZOO, get_spec
from genlens.models.zoo.specs import build
from genlens.models.zoo.train import make_handle, warmup_cosine

NAMES = ["fmnist-cnn", "fmnist-mixer", "fmnist-resmlp", "fmnist-vit"]


def test_registry_lists_the_four_models():
    assert ZOO.available() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_builds_and_maps_shapes(name):
    spec = get_spec(name)
    torch.manual_seed(0)
    handle = make_handle(spec, build(name).eval())
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        logits, feats = handle(x), handle.features(x)
    assert logits.shape == (2, 10)
    assert feats.ndim == 2 and feats.shape[0] == 2 and feats.shape[1] > 0
    assert torch.isfinite(logits).all() and torch.isfinite(feats).all()
    assert handle.input_size == (1, 28, 28) and handle.class_names == spec.class_names
    assert handle.arch == spec.arch
    assert sum(p.numel() for p in handle.model.parameters()) < 2_500_000  # fp16 well under 10 MB


def test_spec_targets():
    assert get_spec("fmnist-cnn").target_top1 == 0.93
    assert {get_spec(n).target_top1 for n in NAMES[1:]} == {0.89}


def test_unknown_spec_lists_names():
    with pytest.raises(GenlensError, match="unknown zoo model 'fmnist-rnn'; choose one of: " + ", ".join(NAMES)):
        get_spec("fmnist-rnn")


def test_warmup_cosine_schedule():
    total, warmup = 100, 10
    lrs = [warmup_cosine(s, total, warmup) for s in range(total)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[10] == pytest.approx(1.0)
    assert all(a >= b for a, b in itertools.pairwise(lrs[10:]))
    assert warmup_cosine(total, total, warmup) == pytest.approx(0.0)


def test_adamw_groups_and_schedule_shared_by_zoo_and_clip():
    from genlens.models.zoo.train import adamw_warmup_cosine

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
    opt, sched = adamw_warmup_cosine(model, lr=0.1, weight_decay=0.05, total=10, warmup=20, no_decay_names=("0.weight",))
    assert [len(g["params"]) for g in opt.param_groups] == [0, 4]  # named + 1-d parameters skip the decay
    assert [g["weight_decay"] for g in opt.param_groups] == [0.05, 0.0]
    assert sched.get_last_lr()[0] == pytest.approx(0.01)  # warm-up capped at the run: 1/10 of the peak
