"""``average_gradients`` / ``broadcast_module``: the data-parallel step of loops that cannot use DDP (GAN)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from genlens.training.distributed import all_reduce_mean, average_gradients, broadcast_module


def _model() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))


def test_one_process_leaves_gradients_and_weights_alone():
    model = _model()
    model(torch.ones(4, 3)).sum().backward()
    model[1].bias.grad = None
    before = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    average_gradients(model.parameters())
    broadcast_module(model)
    assert {n: p.grad for n, p in model.named_parameters() if p.grad is not None}.keys() == before.keys()
    for n, p in model.named_parameters():
        if n in before:
            assert torch.equal(p.grad, before[n])
    assert model[1].bias.grad is None
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())
    values = torch.tensor([1.5, -2.0])
    assert all_reduce_mean(values) is values


def _worker(rank: int, store: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        torch.manual_seed(rank)  # different initial weights on each rank
        model = _model()
        broadcast_module(model)
        x = torch.full((2, 3), float(rank + 1))  # each rank its own slice
        model(x).sum().backward()
        model[1].bias.grad = None  # no gradient on any rank: stays None
        if rank == 1:
            model[0].bias.grad = None  # a gradient on rank 0 only: rank 1 counts as zeros
        average_gradients(model.parameters())
        grads = {n: (p.grad.clone() if p.grad is not None else None) for n, p in model.named_parameters()}
        mean = all_reduce_mean(torch.tensor([float(rank)]))
        torch.save({"weights": model.state_dict(), "grads": grads, "mean": mean}, f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
@pytest.mark.skipif(not dist.is_gloo_available(), reason="needs the gloo backend")
def test_two_processes_share_weights_and_mean_gradients(tmp_path: Path):
    mp.spawn(_worker, args=(str(tmp_path / "store"), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    torch.manual_seed(0)
    reference = _model()  # rank 0's initial weights, which both ranks must hold after the broadcast
    for key, value in reference.state_dict().items():
        assert torch.equal(r0["weights"][key], value) and torch.equal(r1["weights"][key], value), key
    # The mean of the two slices' gradients equals the gradient of the mean loss over both slices.
    reference(torch.cat([torch.full((2, 3), 1.0), torch.full((2, 3), 2.0)])).sum().div(2).backward()
    for name, p in reference.named_parameters():
        g0, g1 = r0["grads"][name], r1["grads"][name]
        if name == "1.bias":
            assert g0 is None and g1 is None
        elif name == "0.bias":  # rank 1 had none: (rank 0's + 0) / 2 on both
            assert torch.equal(g0, g1)  # a bias's gradient does not depend on x: each slice gives the mean's
            torch.testing.assert_close(g0, p.grad / 2, rtol=1e-6, atol=1e-6)
        else:
            assert torch.equal(g0, g1), name
            torch.testing.assert_close(g0, p.grad, rtol=1e-6, atol=1e-6)
    assert float(r0["mean"]) == float(r1["mean"]) == 0.5
