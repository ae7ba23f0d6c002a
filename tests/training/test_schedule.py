import pytest
import torch

from genlens.errors import GenlensError
from genlens.training import CosineWarmup, cosine_with_warmup


def test_factor_shape():
    f = CosineWarmup(total_steps=14, warmup_steps=4, min_lr_ratio=0.1)
    assert [f(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert f(9) == pytest.approx(0.55)  # half way through the decay
    assert f(14) == pytest.approx(0.1)
    assert f(100) == pytest.approx(0.1)


def test_scheduler_state_is_weights_only_loadable(tmp_path):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = cosine_with_warmup(opt, total_steps=10, warmup_steps=2)
    for _ in range(3):
        opt.step()
        sched.step()
    torch.save(sched.state_dict(), tmp_path / "s.pt")
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched2 = cosine_with_warmup(opt2, total_steps=10, warmup_steps=2)
    sched2.load_state_dict(torch.load(tmp_path / "s.pt", weights_only=True))
    assert sched2.last_epoch == 3 and sched2.get_last_lr() == sched.get_last_lr()


def test_bad_warmup_is_rejected():
    with pytest.raises(GenlensError, match="warm-up"):
        CosineWarmup(total_steps=5, warmup_steps=6)
