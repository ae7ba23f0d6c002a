"""The forward process against diffusers' DDPMScheduler (the peer oracle)."""
import pytest
import torch

from genlens.diffusion import NoiseSchedule, diffusion_loss, q_sample
from genlens.errors import GenlensError


@pytest.mark.parametrize("beta", ["linear", "cosine"])
def test_q_sample_matches_ddpm_add_noise(beta):
    schedule = NoiseSchedule(beta_schedule=beta)
    peer = schedule.train_scheduler()
    assert peer.config.beta_schedule == {"linear": "linear", "cosine": "squaredcos_cap_v2"}[beta]
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.rand(5, 1, 32, 32, generator=g) * 2 - 1, torch.randn(5, 1, 32, 32, generator=g)
    t = torch.tensor([0, 1, 250, 700, 999])
    torch.testing.assert_close(q_sample(x0, noise, t, schedule.alphas_cumprod()), peer.add_noise(x0, noise, t))


def test_loss_noises_x0_like_add_noise(toy):
    """The loss feeds the network DDPMScheduler.add_noise(x0, ε, t) and regresses ε."""
    schedule = NoiseSchedule()
    seen = {}

    def fake_model(x_t, t, cond, drop=None):
        seen.update(x_t=x_t, t=t, drop=drop)
        return torch.zeros_like(x_t)

    x0 = torch.rand(4, 1, 32, 32) * 2 - 1
    loss = diffusion_loss(fake_model, x0, torch.tensor([0, 1, 0, 1]), alphas_cumprod=schedule.alphas_cumprod(),
                          generator=torch.Generator().manual_seed(5), cond_dropout=0.5)
    g = torch.Generator().manual_seed(5)  # replay the draws: t, ε, dropout
    t = torch.randint(0, 1000, (4,), generator=g)
    noise = torch.randn(x0.shape, generator=g)
    drop = torch.rand(4, generator=g) < 0.5
    assert torch.equal(seen["t"], t) and torch.equal(seen["drop"], drop)
    torch.testing.assert_close(seen["x_t"], schedule.train_scheduler().add_noise(x0, noise, t))
    torch.testing.assert_close(loss, noise.pow(2).mean())


def test_bad_schedule_is_one_line_error():
    with pytest.raises(GenlensError, match="linear or cosine"):
        NoiseSchedule(beta_schedule="sigmoid")
