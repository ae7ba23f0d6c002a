"""Run by test_accelerate_cli.py under ``accelerate launch --multi_gpu --num_processes 2`` (gloo on CPU).

``cli_worker.py OUT PLAN.json``: PLAN is a list of ``{"name", "argv"[, "scenes_from"]}``; each entry is a
``genlens`` command run in these same processes one after another (one launch pays the start-up once).
Every rank records under ``OUT/rank<r>/<name>/``:

- ``exit``: the command's exit code; ``stdout.txt``: what it printed on stdout;
- ``stderr.txt`` (``gan`` entries): what it printed on stderr;
- ``trained.safetensors``: the weights the trainer returned in this process (shared loop: model and EMA;
  ``gan train``: G, D and the EMA generator);
- ``writes.txt``: every file this process moved into place (``os.replace``: all of genlens' atomic writes).

``"noise"`` is not a command: it trains a tiny model through the shared loop with a generator-drawing loss
for one step (checkpoint in ``OUT/noise-run``) and records this process's draws (``draws.safetensors``), to
check that the processes draw apart.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

RANK = int(os.environ.get("RANK", "0"))
_here: dict[str, Path] = {}  # "dir": the current command's record folder
_real_replace = os.replace


def _record_replace(src, dst, *args, **kwargs):
    _real_replace(src, dst, *args, **kwargs)
    if "dir" in _here:
        with open(_here["dir"] / "writes.txt", "a") as fh:
            fh.write(f"{Path(dst).resolve()}\n")


def _keep(prefix: str, module: torch.nn.Module, into: dict[str, torch.Tensor]) -> None:
    into.update({f"{prefix}.{k}": v.detach().float().cpu().contiguous() for k, v in module.state_dict().items()})


def _dump(tensors: dict[str, torch.Tensor]) -> None:
    save_file(tensors, str(_here["dir"] / "trained.safetensors"))


def _patch() -> None:
    """Record what each process trains and writes; keep the process group alive between commands."""
    import torch.distributed as dist

    import genlens.cli.diffusion
    import genlens.cli.gan
    import genlens.cli.zoo
    import genlens.clip.train
    import genlens.gan.train
    import genlens.metrics.locator_train
    import genlens.training.loop as loop
    from genlens.training.ema import unwrap_module

    os.replace = _record_replace
    real_run, real_clip, real_locator = loop._run, genlens.clip.train.train_fmnist_clip, \
        genlens.metrics.locator_train.train_locator

    def run(accelerator, **kw):
        history = real_run(accelerator, **kw)
        tensors: dict[str, torch.Tensor] = {}
        _keep("model", unwrap_module(kw["model"]), tensors)
        if kw.get("ema") is not None:
            _keep("ema", kw["ema"].ema_model, tensors)
        _dump(tensors)
        return history

    def clip(*args, **kw):
        result = real_clip(*args, **kw)
        tensors: dict[str, torch.Tensor] = {}
        _keep("model", result.model, tensors)
        _dump(tensors)
        return result

    def locator(*args, **kw):
        model = real_locator(*args, **kw)
        tensors: dict[str, torch.Tensor] = {}
        _keep("model", model, tensors)
        _dump(tensors)
        return model

    def barrier() -> None:  # the real end_distributed runs once, after the last command
        if dist.is_initialized():
            dist.barrier()

    real_gan = genlens.gan.train.train_gan

    def gan(**kw):
        result = real_gan(**kw)
        tensors: dict[str, torch.Tensor] = {}
        _keep("G", result.pair.G, tensors)
        _keep("D", result.pair.D, tensors)
        _keep("ema", result.G_ema, tensors)
        _dump(tensors)
        return result

    loop._run = run
    genlens.gan.train.train_gan = gan
    genlens.clip.train.train_fmnist_clip = clip
    genlens.metrics.locator_train.train_locator = locator
    for module in (genlens.cli.diffusion, genlens.cli.gan, genlens.cli.zoo):
        module.end_distributed = barrier


def _small_scenes(data_dir: str) -> None:
    """``locator train``: a few hundred generated scenes instead of the full 60,000-scene split."""
    import genlens.cli.locator as locator_cli
    from genlens.data.fashion_mnist import load_fashion_mnist
    from genlens.data.scenes import SceneConfig, generate_scenes

    items = load_fashion_mnist("test", data_dir=data_dir)
    made = {split: generate_scenes(SceneConfig(split=split, count=n), items) for split, n in
            (("train", 96), ("test", 24))}
    locator_cli._scenes = lambda spec, split, data_dir: made[spec.partition(":")[2] or split]


def noise_run(run_dir: Path, *, stop_at: int | None) -> list[torch.Tensor]:
    """The shared loop on a tiny model whose loss draws from a caller's generator (seed 5), 2 steps of a global
    batch of 4, checkpointed in ``run_dir`` (resumed when it holds one); returns this process's draws."""
    from genlens.training import TrainConfig, train

    gen, draws = torch.Generator().manual_seed(5), []
    model = torch.nn.Linear(3, 1)

    def loss_fn(net, batch):
        noise = torch.randn(batch.shape, generator=gen)
        draws.append(noise)
        return (net(batch + noise) ** 2).mean()

    train(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), loss_fn=loss_fn,
          data=torch.ones(8, 3), config=TrainConfig(total_steps=2, batch_size=4, device="cpu"),
          generators={"noise": gen}, run_dir=run_dir, resume=True, stop_at_step=stop_at)
    return draws


def _noise(out: Path) -> None:
    """Step 1 of :func:`noise_run` in these processes; the test resumes step 2 in one process."""
    draws = noise_run(out / "noise-run", stop_at=1)
    save_file({"draws": torch.cat(draws)}, str(_here["dir"] / "draws.safetensors"))


def main(out: Path, plan: list[dict]) -> None:
    _patch()
    from genlens.cli.main import main as genlens_main
    from genlens.training.distributed import end_distributed

    for entry in plan:
        _here["dir"] = out / f"rank{RANK}" / entry["name"]
        _here["dir"].mkdir(parents=True, exist_ok=True)
        if entry["name"] == "noise":
            _noise(out)
            (_here["dir"] / "exit").write_text("0")
            continue
        if "scenes_from" in entry:
            _small_scenes(entry["scenes_from"])
        stdout, stderr, code = io.StringIO(), io.StringIO(), 0
        keep_stderr = contextlib.redirect_stderr(stderr) if entry["name"].startswith("gan") else contextlib.nullcontext()
        try:
            with contextlib.redirect_stdout(stdout), keep_stderr:
                genlens_main(entry["argv"])
        except SystemExit as exc:  # typer ends a command with sys.exit; genlens errors exit 2
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        (_here["dir"] / "stdout.txt").write_text(stdout.getvalue())
        if entry["name"].startswith("gan"):
            (_here["dir"] / "stderr.txt").write_text(stderr.getvalue())
        (_here["dir"] / "exit").write_text(str(code))
    _here.clear()
    end_distributed()


if __name__ == "__main__":
    main(Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text()))
