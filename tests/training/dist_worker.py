"""Run by test_distributed.py under ``accelerate launch --multi_gpu --num_processes 2`` (gloo on CPU).

Trains the tiny MLP for 5 steps, stops, resumes to 10 steps (each process rebuilds its objects, as after
a restart), then the main process writes the final weights to ``OUT/weights.safetensors``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

from genlens.training import EMA, TrainConfig, cosine_with_warmup, end_distributed, train

CONFIG = TrainConfig(total_steps=10, batch_size=8, device="cpu", grad_clip=1.0, seed=3)


def make_data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(123)
    x = torch.randn(40, 6, generator=g)
    return x, (x[:, :1] * 2 - x[:, 1:2]).tanh()


def make_parts() -> tuple[nn.Module, torch.optim.Optimizer, object, EMA]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return model, opt, cosine_with_warmup(opt, total_steps=10, warmup_steps=2), EMA(model, decay=0.9)


def loss_fn(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    x, y = batch
    return nn.functional.mse_loss(model(x), y)


def run(run_dir: Path, *, stop_at: int | None = 5) -> tuple[nn.Module, EMA, list[dict]]:
    history: list[dict] = []
    for stop in ([stop_at, None] if stop_at else [None]):
        model, opt, sched, ema = make_parts()
        history += train(model=model, optimizer=opt, loss_fn=loss_fn, data=make_data(), config=CONFIG,
                         scheduler=sched, ema=ema, run_dir=run_dir, resume=True, stop_at_step=stop)
    return model, ema, history


if __name__ == "__main__":
    out = Path(sys.argv[1])
    model, ema, history = run(out / "run")
    from accelerate import PartialState

    if PartialState().is_main_process:
        tensors = {f"model.{k}": v.contiguous() for k, v in model.state_dict().items()}
        tensors |= {f"ema.{k}": v.contiguous() for k, v in ema.ema_model.state_dict().items()}
        tensors["losses"] = torch.tensor([r["loss"] for r in history], dtype=torch.float64)
        tensors["world"] = torch.tensor(PartialState().num_processes)
        save_file(tensors, str(out / "weights.safetensors"))
    end_distributed()  # every rank: no abort at exit while the main process is still writing
