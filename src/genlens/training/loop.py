"""A small generic trainer on Hugging Face Accelerate that resumes exactly.

One step: take this process's slice of the next global batch (:class:`DataOrder`), ``loss_fn(model,
batch)`` under autocast, all-reduce the loss (and a Ctrl-C flag), stop on NaN/Inf before touching the
weights, backward (DDP averages gradients across processes), clip, optimizer step, LR-schedule step, EMA
update. Checkpoints (:mod:`genlens.training.checkpoint`) hold every piece of state a step reads (weights,
EMA, optimizer, schedule, grad scaler, data position, the RNG streams of every process), so a run
stopped at step k and resumed equals an uninterrupted run.

Multi-process: ``accelerate launch --multi_gpu --num_processes 2 script.py`` (on a CPU-only machine this
runs two gloo processes). ``TrainConfig.batch_size`` is the global batch; only the main process writes.
"""
from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from accelerate import Accelerator
from accelerate.utils import gather_object
from torch import nn

from genlens.errors import GenlensError
from genlens.training.checkpoint import find_intact_checkpoint, load_checkpoint, read_checkpoint_state, save_checkpoint
from genlens.training.config_diff import check_same_config, config_to_dict
from genlens.training.data_order import DataOrder
from genlens.training.distributed import make_accelerator, split_generators
from genlens.training.ema import EMA, unwrap_module
from genlens.training.interrupt import DeferredInterrupt
from genlens.training.lock import run_lock
from genlens.training.rng import capture_rng_state, restore_rng_state
from genlens.utils.seed import seed_everything

Batch = Any  # a tensor, or a tuple / list / dict of tensors, sliced along dim 0
LossFn = Callable[[nn.Module, Batch], torch.Tensor]
MIXED_PRECISION = ("no", "bf16", "fp16")


@dataclass(frozen=True)
class TrainConfig:
    """How to train; every field except ``RUN_CONTROL`` must match when resuming."""

    total_steps: int
    batch_size: int  # global: summed over all processes
    seed: int = 0
    grad_clip: float | None = 1.0  # max global L2 norm of the gradients; None: no clipping
    mixed_precision: str = "no"  # "no" | "bf16" | "fp16"
    device: str = "auto"  # auto | cpu | cuda[:N]
    checkpoint_every: int = 0  # also save run_dir/last every this many steps (0: only at the end / stop)
    keep_every: int = 0  # also keep run_dir/step-XXXXXX every this many steps (0: never)

    RUN_CONTROL: ClassVar[tuple[str, ...]] = ("device", "checkpoint_every", "keep_every")

    def __post_init__(self) -> None:
        if self.total_steps < 1:
            raise GenlensError(f"total_steps must be at least 1, got {self.total_steps}")
        if self.batch_size < 1:
            raise GenlensError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise GenlensError(f"grad_clip must be positive or None, got {self.grad_clip}")
        if self.mixed_precision not in MIXED_PRECISION:
            raise GenlensError(f"mixed_precision '{self.mixed_precision}' is unknown; use no, bf16 or fp16")
        if self.checkpoint_every < 0 or self.keep_every < 0:
            raise GenlensError("checkpoint_every and keep_every must be >= 0 (0 turns them off)")

    def identity(self) -> dict[str, Any]:
        """The fields a resumed run must share with the run it continues."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in self.RUN_CONTROL}


class RunFinished(GenlensError):
    """Resuming a run that already reached its last step: nothing is trained or written (exit code 0)."""

    exit_code = 0


# ----------------------------------------------------------------------------------------- helpers
def _leaves(data: Batch) -> list[torch.Tensor]:
    if isinstance(data, torch.Tensor):
        return [data]
    if isinstance(data, Mapping):
        return [t for v in data.values() for t in _leaves(v)]
    if isinstance(data, (tuple, list)):
        return [t for v in data for t in _leaves(v)]
    raise GenlensError(f"training data must be tensors (or tuples/dicts of tensors), got {type(data).__name__}")


def _num_items(data: Batch) -> int:
    sizes = {len(t) for t in _leaves(data)}
    if len(sizes) != 1:
        raise GenlensError(f"training tensors disagree on the number of items ({sorted(sizes)}); align dim 0")
    return sizes.pop()


def _take(data: Batch, idx: torch.Tensor, device: torch.device) -> Batch:
    if isinstance(data, torch.Tensor):
        return data[idx.to(data.device)].to(device, non_blocking=True)
    if isinstance(data, Mapping):
        return {k: _take(v, idx, device) for k, v in data.items()}
    parts = [_take(v, idx, device) for v in data]
    return type(data)(*parts) if hasattr(data, "_fields") else type(data)(parts)  # namedtuple or not


def _make_accelerator(config: TrainConfig) -> Accelerator:
    return make_accelerator(device=config.device, mixed_precision=config.mixed_precision)


# ----------------------------------------------------------------------------------------- the loop
def train(
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
    data: Batch,
    config: TrainConfig,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    ema: EMA | None = None,
    run_dir: str | Path | None = None,
    resume: bool = False,
    run_config: Any = None,
    stop_at_step: int | None = None,
    generators: Mapping[str, torch.Generator] | None = None,
    callback: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Train ``model`` in place for ``config.total_steps`` optimizer steps; return this call's history.

    ``model``, ``optimizer``, ``scheduler`` and ``ema`` are updated in place. A fresh run seeds Python,
    NumPy and torch with ``config.seed + process_index`` (dropout etc.); a resumed run restores them. With
    several processes a fresh run also re-seeds each of ``generators`` per process
    (:func:`~genlens.training.distributed.split_generators`; rank 0 keeps the caller's stream), so the
    processes draw independent noise for their slices: such a run is not bit-equal to a single-process one.

    ``run_config`` (dataclass or dict: model architecture, learning rate, ...) is stored in checkpoints and
    must match on resume, together with ``config`` and the EMA settings. ``resume=True`` continues from
    ``run_dir/last`` when it exists (else starts fresh). ``stop_at_step`` ends this call early after saving a
    checkpoint. ``generators`` are the caller's own ``torch.Generator``s that ``loss_fn`` draws from; their
    states are checkpointed too. ``callback(record)`` runs on the main process after every step with
    ``{"step", "loss", "lr", "images_per_s"[, "grad_norm"]}``; the returned history holds the same dicts.

    Resuming skips corrupt checkpoints (sha256 recorded at save time) for the newest intact one and says so
    with ``callback({"note": ...})``; resuming a finished run raises :class:`RunFinished` and changes
    nothing. Every checkpoint's ``state.json`` keeps the whole run's ``history`` as ``[step, loss, lr]``
    rows, across resumes. The run folder is locked (:mod:`genlens.training.lock`) while this runs.
    """
    accelerator = _make_accelerator(config)
    lock = run_lock(run_dir) if run_dir is not None and accelerator.is_main_process else nullcontext()
    with lock:
        return _run(accelerator, model=model, optimizer=optimizer, loss_fn=loss_fn, data=data, config=config,
                    scheduler=scheduler, ema=ema, run_dir=run_dir, resume=resume, run_config=run_config,
                    stop_at_step=stop_at_step, generators=generators, callback=callback)


def _run(
    accelerator: Accelerator,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
    data: Batch,
    config: TrainConfig,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    ema: EMA | None,
    run_dir: str | Path | None,
    resume: bool,
    run_config: Any,
    stop_at_step: int | None,
    generators: Mapping[str, torch.Generator] | None,
    callback: Callable[[dict[str, Any]], None] | None,
) -> list[dict[str, Any]]:
    """:func:`train`'s body, run while holding the run folder's lock."""
    rank, world = accelerator.process_index, accelerator.num_processes
    order = DataOrder(_num_items(data), batch_size=config.batch_size, seed=config.seed,
                      num_processes=world, process_index=rank)
    identity = {
        "train": config.identity(),
        "run": config_to_dict(run_config),
        "ema": None if ema is None else ema.settings(),
        "num_items": order.num_items,
    }
    run_dir = Path(run_dir) if run_dir is not None else None
    found, notes = find_intact_checkpoint(run_dir) if run_dir is not None else (None, [])
    if (found is not None or notes) and not resume:
        raise GenlensError(f"{run_dir} already holds a checkpoint; pass resume=True (--resume) to continue it "
                           "or choose a new run dir")
    if found is None and notes:
        raise GenlensError(f"no intact checkpoint in {run_dir} ({notes[0]}); start a new run folder")
    if found is not None:
        saved_state = read_checkpoint_state(found)
        check_same_config(saved_state.get("config", {}), identity)  # a different run is refused, finished or not
        done = int(saved_state["step"])
        if done >= config.total_steps:
            raise RunFinished(f"{run_dir} is already finished (step {done} of {config.total_steps}); nothing was "
                              "changed; to train longer, start a new run folder")
    if callback is not None and accelerator.is_main_process:
        for note in notes:  # a corrupt newer checkpoint was skipped: say so before training goes on
            callback({"note": note})

    own_forward = unwrap_module(model).__dict__.get("forward")  # usually None: the class's forward
    prepared, optim = accelerator.prepare(model, optimizer)
    net = unwrap_module(prepared)
    if ema is not None:
        ema.to(accelerator.device)
    step = 0
    past: list[list[float]] = []  # [step, loss, lr] of the segments before this call (kept in every checkpoint)
    if found is not None:
        saved = load_checkpoint(found, model=net, config=identity, optimizer=optim, scheduler=scheduler,
                                scaler=accelerator.scaler, ema=ema)
        step = int(saved["step"])
        past = [list(r) for r in saved.get("history", [])]
        order.load_state_dict(saved["data_order"])
        rngs = saved.get("rng") or []
        if len(rngs) == world:
            restore_rng_state(rngs[rank], generators=generators)
        else:  # other process count: same data order, fresh (seeded) dropout / noise streams
            seed_everything(config.seed + rank + 1_000_003 * step)
            split_generators(generators, rank, salt=1_000_003 * step)
    else:
        seed_everything(config.seed + rank)
        if world > 1:  # each process draws its own noise for its slice (rank 0 keeps the caller's stream)
            split_generators(generators, rank)
    end = config.total_steps if stop_at_step is None else min(config.total_steps, stop_at_step)
    last_saved = step if found is not None else None

    def save(at_step: int) -> None:
        rng = capture_rng_state(generators=generators)
        rngs = gather_object([rng]) if world > 1 else [rng]
        if accelerator.is_main_process:
            keep = bool(config.keep_every) and at_step % config.keep_every == 0
            save_checkpoint(run_dir, step=at_step, model=net, config=identity, optimizer=optim,
                            scheduler=scheduler, scaler=accelerator.scaler, ema=ema, keep_step=keep,
                            state={"epoch": order.epoch, "data_order": order.state_dict(), "rng": rngs,
                                   "num_processes": world,
                                   "history": past + [[r["step"], r["loss"], r["lr"]] for r in history]})
        accelerator.wait_for_everyone()

    def due(at_step: int) -> bool:
        return at_step == end or any(every and at_step % every == 0
                                     for every in (config.checkpoint_every, config.keep_every))

    history: list[dict[str, Any]] = []
    at_boundary = True  # model, optimizer, data order and RNG all describe the same step
    try:
        with DeferredInterrupt() as interrupt:
            while step < end:
                at_boundary = False
                start = time.perf_counter()
                batch = _take(data, order.next_indices(), accelerator.device)
                prepared.train()
                with accelerator.autocast():
                    loss = loss_fn(prepared, batch)
                if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                    raise GenlensError("loss_fn must return a scalar tensor (e.g. a mean over the batch)")
                flags = torch.stack([loss.detach().float().reshape(()),
                                     torch.tensor(float(interrupt.requested), device=loss.device)])
                flags = accelerator.reduce(flags, reduction="sum")
                loss_value = flags[0].item() / world
                if not math.isfinite(loss_value):
                    kept = ("no checkpoint was saved yet" if last_saved is None
                            else f"{run_dir}/last (step {last_saved}) is kept")
                    raise GenlensError(f"loss is {loss_value} at step {step + 1}; training stopped and {kept}; "
                                       "lower the learning rate, clip gradients or train in full precision")
                lr = float(optim.param_groups[0]["lr"])
                accelerator.backward(loss)
                grad_norm = (accelerator.clip_grad_norm_(prepared.parameters(), config.grad_clip)
                             if config.grad_clip is not None else None)
                optim.step()
                if scheduler is not None and not accelerator.optimizer_step_was_skipped:
                    scheduler.step()
                optim.zero_grad(set_to_none=True)
                if ema is not None:
                    ema.update(net)
                step += 1
                at_boundary = True
                record = {"step": step, "loss": loss_value, "lr": lr,
                          "images_per_s": config.batch_size / max(time.perf_counter() - start, 1e-9)}
                if grad_norm is not None:
                    record["grad_norm"] = float(grad_norm)
                history.append(record)
                if callback is not None and accelerator.is_main_process:
                    callback(record)
                stop_requested = flags[1].item() > 0
                if run_dir is not None and (stop_requested or due(step)):
                    at_boundary = False  # a second Ctrl-C during the save must not save again
                    save(step)
                    last_saved, at_boundary = step, True
                if stop_requested:
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        # Save only at a step boundary; with several processes the others may not be here, so skip.
        if at_boundary and run_dir is not None and step != last_saved and world == 1:
            save(step)
        raise
    finally:  # undo accelerate's autocast patch of forward, so the caller gets its model back as it was
        net.__dict__.pop("_original_forward", None)
        if own_forward is None:
            net.__dict__.pop("forward", None)
        else:
            net.forward = own_forward
    return history
