import pytest
import torch
from torch import nn

from genlens.errors import GenlensError
from genlens.training import EMA


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))


def test_update_averages_parameters_and_copies_buffers():
    model = _model()
    ema = EMA(model, decay=0.9, warmup=False)
    before = [p.clone() for p in ema.ema_model.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    model.train()(torch.randn(8, 3))  # changes the batch-norm running stats
    ema.update(model)
    for old, new, p in zip(before, ema.ema_model.parameters(), model.parameters(), strict=True):
        torch.testing.assert_close(new, 0.9 * old + 0.1 * p)
    for b_ema, b in zip(ema.ema_model.buffers(), model.buffers(), strict=True):
        assert torch.equal(b_ema, b)
    assert not any(p.requires_grad for p in ema.ema_model.parameters())
    assert not ema.ema_model.training


def test_warmup_ramps_decay():
    ema = EMA(_model(), decay=0.999)
    assert ema.current_decay() == pytest.approx(0.1)
    ema.num_updates = 10**6
    assert ema.current_decay() == 0.999


def test_copy_to_and_state_round_trip():
    model = _model()
    ema = EMA(model, decay=0.5)
    with torch.no_grad():
        model[0].weight.mul_(3)
    ema.update(model)
    other = EMA(_model(), decay=0.5)
    other.load_state_dict(ema.state_dict())
    assert other.num_updates == 1
    target = _model()
    other.copy_to(target)
    assert torch.equal(target[0].weight, ema.ema_model[0].weight)
    with pytest.raises(GenlensError, match="decay"):
        EMA(_model(), decay=0.9).load_state_dict(ema.state_dict())
    with pytest.raises(GenlensError):
        EMA(model, decay=1.0)
