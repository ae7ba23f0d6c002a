"""Run by test_accelerate_cli.py under ``accelerate launch --multi_gpu --num_processes 2`` (gloo on CPU).

``cli_worker.py OUT PLAN.json``: PLAN is a list of ``{"name", "argv"[, "scenes_from"]}``; each entry is a
``genlens`` command run in these same processes one after another (one launch pays the start-up once).
Every rank records under ``OUT/rank<r>/<name>/``:

- ``exit``: the command's exit code; ``stdout.txt``: what it printed on stdout;
- ``stderr.txt`` (``gan`` entries): what it printed on stderr;
- ``trained.safetensors``: the weights the trainer returned in this process (shared loop: model and EMA;
  ``gan train``: G, D and the EMA generator);
- ``writes.txt``: every file this process moved into place (``os.replace``: all of genlens' atomic writes);
- ``indices.safetensors`` (``clip``, ``locator``): ``indices`` (steps, local batch), the training items this
  process read at each step.

``"noise"`` is not a command: it trains a tiny model through the shared loop with a generator-drawing loss
for one step (checkpoint in ``OUT/noise-run``) and records this process's draws (``draws.safetensors``), to
check that the processes draw apart. ``"grads"`` is not a command either: it records the gradients of clip's
and the locator's losses on tiny models without BatchNorm, each process holding its half of a fixed global
batch (``grads.safetensors``), for comparison with one process holding all of it (:func:`own_loss_grads`).
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
_indices: list[torch.Tensor] = []  # the items the current command's own loop (clip, locator) read, per step
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


def recording_indices(fn, into: list[torch.Tensor]):
    """``fn(data, idx, ...)`` (clip's ``augmented_batch``, the locator's ``scene_targets``) that also appends
    ``idx`` to ``into``."""
    def wrapped(data, idx, *args, **kwargs):
        into.append(idx.detach().cpu().clone())
        return fn(data, idx, *args, **kwargs)
    return wrapped


def _patch() -> None:
    """Record what each process trains and writes; keep the process group alive between commands."""
    import torch.distributed as dist

    import genlens.cli.clip
    import genlens.cli.diffusion
    import genlens.cli.gan
    import genlens.cli.locator
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
    genlens.clip.train.augmented_batch = recording_indices(genlens.clip.train.augmented_batch, _indices)
    genlens.metrics.locator_train.scene_targets = recording_indices(genlens.metrics.locator_train.scene_targets,
                                                                    _indices)
    for module in (genlens.cli.clip, genlens.cli.diffusion, genlens.cli.gan, genlens.cli.locator, genlens.cli.zoo):
        module.end_distributed = barrier


def small_scenes(data_dir: str):
    """``locator train``: a few hundred generated scenes instead of the full 60,000-scene split; returns the
    replacement of ``genlens.cli.locator._scenes``."""
    from genlens.data.fashion_mnist import load_fashion_mnist
    from genlens.data.scenes import SceneConfig, generate_scenes

    items = load_fashion_mnist("test", data_dir=data_dir)
    made = {split: generate_scenes(SceneConfig(split=split, count=n), items) for split, n in
            (("train", 96), ("test", 24))}
    return lambda spec, split, data_dir: made[spec.partition(":")[2] or split]


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


def own_loss_grads() -> dict[str, torch.Tensor]:
    """Gradients of clip's contrastive loss and the locator's loss over a fixed global batch of 8, this process
    holding its slice (DDP-averaged under a launcher; the whole batch without one)."""
    import torch.nn.functional as F

    from genlens.clip.train import _global_batch, multi_positive_clip_loss
    from genlens.metrics.locator_train import locator_loss
    from genlens.training.distributed import make_accelerator, num_processes

    world = num_processes()
    accelerator = make_accelerator(device="cpu") if world > 1 else None
    rank = accelerator.process_index if accelerator else 0
    mine = slice(rank * 8 // world, (rank + 1) * 8 // world)
    g = torch.Generator().manual_seed(0)

    class Tower(torch.nn.Module):  # clip: unit-norm embeddings and the temperature
        def __init__(self) -> None:
            super().__init__()
            self.lin, self.logit_scale = torch.nn.Linear(6, 5), torch.nn.Parameter(torch.tensor(2.0))

        def forward(self, x):
            return F.normalize(self.lin(x), dim=-1), self.logit_scale.exp()

    class Heads(torch.nn.Module):  # locator: heatmap logits and offsets
        def __init__(self) -> None:
            super().__init__()
            self.heat, self.off = torch.nn.Conv2d(1, 3, 3, padding=1), torch.nn.Conv2d(1, 2, 3, padding=1)

        def forward(self, x):
            return self.heat(x), self.off(x)

    torch.manual_seed(0)
    tower, heads = Tower(), Heads()
    x, txt = torch.randn(8, 6, generator=g), F.normalize(torch.randn(8, 5, generator=g), dim=-1)
    labels = torch.tensor([0, 1, 0, 2, 1, 1, 3, 0])
    images, heat = torch.rand(8, 1, 4, 4, generator=g), torch.rand(8, 3, 4, 4, generator=g)
    heat[torch.arange(8), labels % 3, labels, 3 - labels] = 1.0  # one peak per image; rank 1's hold more objects
    heat[5, 0, 0, 0] = heat[6, 1, 1, 1] = 1.0
    offsets, mask = torch.rand(8, 2, 4, 4, generator=g), (heat.amax(1, keepdim=True) >= 1.0).float()
    nets = [accelerator.prepare(m) if accelerator else m for m in (tower, heads)]

    img, scale = nets[0](x[mine])
    t, y = txt[mine], labels[mine]
    if accelerator:
        img, t, y = _global_batch(img, t, y, accelerator)
    multi_positive_clip_loss(img, t, y, scale).backward()
    locator_loss(nets[1], images[mine], (heat[mine], offsets[mine], mask[mine]), accelerator)["loss"].backward()
    return {f"{name}.{k}": p.grad.detach().clone() for name, m in (("clip", tower), ("locator", heads))
            for k, p in m.named_parameters()}


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
        if entry["name"] == "grads":
            save_file(own_loss_grads(), str(_here["dir"] / "grads.safetensors"))
            continue
        if "scenes_from" in entry:
            import genlens.cli.locator as locator_cli

            locator_cli._scenes = small_scenes(entry["scenes_from"])
        _indices.clear()
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
        if _indices:
            save_file({"indices": torch.stack(_indices)}, str(_here["dir"] / "indices.safetensors"))
        (_here["dir"] / "exit").write_text(str(code))
    _here.clear()
    end_distributed()


if __name__ == "__main__":
    main(Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text()))
