"""eval_mode and frozen restore exactly what they found."""
from __future__ import annotations

import pytest
from torch import nn

from genlens.utils.modes import eval_mode, frozen


def _net() -> nn.Sequential:
    return nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Dropout(0.5), nn.Linear(3, 1))


@pytest.mark.parametrize("training", [True, False])
def test_eval_mode_restores_top_level_mode(training):
    net = _net().train(training)
    with eval_mode(net):
        assert not any(m.training for m in net.modules())
    assert all(m.training == training for m in net.modules())


def test_eval_mode_restores_mixed_submodule_modes():
    net = _net().train()
    net[1].eval()  # a frozen BatchNorm inside a model that trains
    other = _net().eval()
    before = [m.training for m in (*net.modules(), *other.modules())]
    with eval_mode(net, other):
        assert not any(m.training for m in net.modules())
    assert [m.training for m in (*net.modules(), *other.modules())] == before


def test_eval_mode_restores_after_an_exception():
    net = _net().train()
    with pytest.raises(RuntimeError), eval_mode(net):
        raise RuntimeError
    assert net.training and net[2].training


def test_frozen_restores_requires_grad():
    net = _net()
    net[0].bias.requires_grad_(False)
    before = [p.requires_grad for p in net.parameters()]
    with frozen(net):
        assert not any(p.requires_grad for p in net.parameters())
    assert [p.requires_grad for p in net.parameters()] == before
