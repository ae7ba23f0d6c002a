"""What a trainer needs to know and do when ``accelerate launch`` / ``torchrun`` starts several processes."""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from accelerate import Accelerator
    from torch import nn

# A large odd constant (the 64-bit golden ratio): seed + rank · STRIDE keeps the processes' streams apart from
# each other and from the neighbouring seeds (seed + 1, ...) that callers give their other generators.
SEED_STRIDE = 0x9E3779B97F4A7C15


def process_index() -> int:
    """This process's global rank as the launcher set it (``RANK``, with ``WORLD_SIZE`` > 1, as ``accelerate
    launch`` and ``torchrun`` set both); 0 in a plain single process, whatever a stray ``RANK`` says.

    Read from the environment, so asking never starts a process group."""
    if int(os.environ.get("WORLD_SIZE", "1") or 1) <= 1:
        return 0
    return int(os.environ.get("RANK", "0") or 0)


def num_processes() -> int:
    """How many processes the launcher started (``WORLD_SIZE``; 1 without a launcher), read from the
    environment like :func:`process_index`."""
    return max(1, int(os.environ.get("WORLD_SIZE", "1") or 1))


def is_main_process() -> bool:
    """True in the one process that writes outputs (model folders, run.json, printed JSON)."""
    return process_index() == 0


def process_seed(seed: int, rank: int) -> int:
    """The seed of process ``rank``'s copy of a stream seeded ``seed``: ``seed`` itself on rank 0, far-apart
    values elsewhere (as ``accelerate.utils.set_seed(device_specific=True)`` does for the global RNG)."""
    return (int(seed) + int(rank) * SEED_STRIDE) % 2**64


def split_generators(generators: Mapping[str, torch.Generator] | None, rank: int, *, salt: int = 0) -> None:
    """Re-seed each generator with :func:`process_seed` of its initial seed (+ ``salt``), in place.

    Called by the training loop on a fresh multi-process run: without it every process draws the same noise
    (diffusion's timesteps and ε, augmentations) for its own slice of the batch, so the global batch holds
    ``world`` correlated copies of the draws instead of independent ones."""
    for gen in (generators or {}).values():
        gen.manual_seed(process_seed(gen.initial_seed() + salt, rank))


def make_accelerator(*, device: str | torch.device = "auto", mixed_precision: str = "no") -> Accelerator:
    """An ``Accelerator`` for ``device`` (``cpu=True`` on a CPU, so several CPU processes use gloo); under a
    launcher this joins the process group. Accelerate keeps one shared state per process: a second trainer in
    the same process with other settings resets it instead of failing."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    from genlens.utils.device import resolve_device

    kwargs = {"cpu": resolve_device(device).type == "cpu", "mixed_precision": mixed_precision}
    try:
        return Accelerator(**kwargs)
    except ValueError as err:  # an earlier run in this process fixed other settings in the shared state
        if "already been initialized" not in str(err):
            raise
        AcceleratorState._reset_state()
        return Accelerator(**kwargs)


def end_distributed() -> None:
    """Wait for every rank, then destroy the default process group; a no-op in a single process.

    Call it once all outputs are written. A rank that exits while another still talks to it can make
    gloo's background threads abort at interpreter exit ("terminate called without an active exception",
    SIGABRT), and the launcher then reports a failed run although every file was saved.
    """
    import torch.distributed as dist  # lazily: the CLI imports this module at start-up

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def _group_size() -> int:
    """The default process group's size; 1 when none is running."""
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def average_gradients(params: Iterable[torch.Tensor]) -> None:
    """Replace each parameter's ``.grad`` by its mean over the processes, in place; a no-op in one process.

    For loops that take a double backward (R1's gradient penalty, Grad-CAM inside a loss): DDP averages
    gradients with hooks on the first backward only and does not support ``create_graph`` passes, so such
    loops keep their modules unwrapped and call this after each phase's backward on the parameters the phase
    updates (as StyleGAN2-ADA's training loop does: one all-reduce of the flattened gradients, divided by the
    process count). One buffer travels: the gradients (a missing one as zeros) and one presence flag per
    parameter; a parameter with no gradient on any process keeps ``None`` (the optimizer then skips it, as in
    one process), one with a gradient somewhere gets the mean over all processes.
    """
    import torch
    import torch.distributed as dist

    world = _group_size()
    params = [p for p in params if p.requires_grad]
    if world == 1 or not params:
        return
    dtype = params[0].dtype
    for p in params[1:]:
        dtype = torch.promote_types(dtype, p.dtype)
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1).to(dtype) for p in params]
                     + [torch.tensor([float(p.grad is not None) for p in params], dtype=dtype,
                                     device=params[0].device)])
    dist.all_reduce(flat)  # sum over processes
    present = flat[-len(params):].tolist()  # one device-to-host copy, not one per parameter
    offset = 0
    for p, count in zip(params, present, strict=True):
        n = p.numel()
        if count > 0:
            mean = (flat[offset:offset + n] / world).view_as(p)
            if p.grad is None:
                p.grad = mean.to(p.dtype).clone()
            else:
                p.grad.copy_(mean)
        offset += n


def broadcast_module(module: nn.Module, *, src: int = 0) -> None:
    """Copy rank ``src``'s parameters and buffers into every process's ``module``, in place; a no-op in one
    process. A fresh run calls it once so that all processes start from one set of weights."""
    import torch
    import torch.distributed as dist

    if _group_size() == 1:
        return
    with torch.no_grad():
        for tensor in module.state_dict(keep_vars=True).values():
            dist.broadcast(tensor.data, src=src)


def all_reduce_mean(values: torch.Tensor) -> torch.Tensor:
    """``values`` averaged over the processes (a new tensor); ``values`` itself in one process."""
    import torch.distributed as dist

    world = _group_size()
    if world == 1:
        return values
    out = values.detach().clone()
    dist.all_reduce(out)
    return out / world
