"""A resumable, deterministic order over ``N`` in-memory items, shardable across processes.

Epoch ``e`` visits the items in ``torch.randperm(N)`` drawn from a CPU generator seeded with a hash of
``(seed, e)``; global batches are consecutive runs of ``batch_size`` items of that permutation (an
incomplete tail is dropped, so every batch has the same size). With ``num_processes = P`` each process
takes its own contiguous ``batch_size / P`` slice of every global batch, so ``P`` processes together see
exactly the samples one process sees with the whole batch. The state (epoch, position in the epoch) is
global, so a run can resume with any process count.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import torch

from genlens.errors import GenlensError


def epoch_seed(seed: int, epoch: int) -> int:
    """A 32-bit hash of (seed, epoch) (the CPU generator keeps only 32 bits), so that run seeds ``s`` and
    ``s + 1`` do not replay each other's epochs as plain ``seed + epoch`` would."""
    digest = hashlib.blake2b(f"{int(seed)}/{int(epoch)}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little")


class DataOrder:
    """Yields index tensors for this process; ``state_dict()`` / ``load_state_dict()`` resume it."""

    def __init__(
        self,
        num_items: int,
        *,
        batch_size: int,
        seed: int = 0,
        num_processes: int = 1,
        process_index: int = 0,
    ) -> None:
        if num_items < 1:
            raise GenlensError("the data set is empty; give at least one item to train on")
        if not 1 <= batch_size <= num_items:
            raise GenlensError(
                f"batch size {batch_size} must be between 1 and the number of items ({num_items}); "
                "lower the batch size or add data"
            )
        if num_processes < 1 or not 0 <= process_index < num_processes:
            raise GenlensError(f"process index {process_index} is not in 0..{num_processes - 1}")
        if batch_size % num_processes:
            raise GenlensError(
                f"batch size {batch_size} is not divisible by the {num_processes} processes; "
                "pick a global batch size that is a multiple of the process count"
            )
        self.num_items = int(num_items)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.num_processes = int(num_processes)
        self.process_index = int(process_index)
        self.epoch = 0
        self.position = 0  # items of this epoch's permutation already handed out (all processes)
        self._cached: tuple[int, torch.Tensor] | None = None

    @property
    def local_batch_size(self) -> int:
        return self.batch_size // self.num_processes

    @property
    def batches_per_epoch(self) -> int:
        return self.num_items // self.batch_size

    def permutation(self, epoch: int) -> torch.Tensor:
        """The order of all items in ``epoch`` (same on every process)."""
        if self._cached is None or self._cached[0] != epoch:
            g = torch.Generator().manual_seed(epoch_seed(self.seed, epoch))
            self._cached = (epoch, torch.randperm(self.num_items, generator=g))
        return self._cached[1]

    def next_global_indices(self) -> torch.Tensor:
        """Advance by one global batch and return all of its indices, shape ``(batch_size,)``."""
        if self.position + self.batch_size > self.num_items:
            self.epoch += 1
            self.position = 0
        batch = self.permutation(self.epoch)[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return batch

    def next_indices(self) -> torch.Tensor:
        """Advance by one global batch and return this process's slice, shape ``(local_batch_size,)``."""
        start = self.process_index * self.local_batch_size
        return self.next_global_indices()[start : start + self.local_batch_size]

    def __iter__(self) -> Iterator[torch.Tensor]:
        while True:
            yield self.next_indices()

    def state_dict(self) -> dict[str, Any]:
        return {
            "num_items": self.num_items,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "epoch": self.epoch,
            "position": self.position,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key in ("num_items", "seed"):
            if int(state[key]) != getattr(self, key):
                raise GenlensError(
                    f"saved data order has {key}={state[key]} but this run has {getattr(self, key)}; "
                    "resume with the same data and seed"
                )
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])
