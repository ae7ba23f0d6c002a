"""What a trainer needs to know and do when ``accelerate launch`` / ``torchrun`` starts several processes."""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from accelerate import Accelerator

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
