"""Clean shutdown of a multi-process run started by ``accelerate launch`` / ``torchrun``."""
from __future__ import annotations


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
