"""Resolve ``--device auto|cpu|cuda[:N]|mps`` to a ``torch.device`` with a clear error."""
from __future__ import annotations

import torch

from genlens.errors import GenlensError


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    if isinstance(spec, torch.device):
        return spec
    spec = (spec or "auto").lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return _local_cuda()
        return torch.device("cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise GenlensError(f"--device {spec} asked for, but no CUDA GPU is visible; use --device cpu or auto")
        return _local_cuda() if spec == "cuda" else torch.device(spec)
    if spec == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise GenlensError("--device mps asked for, but MPS is not available; use --device cpu or auto")
        return torch.device("mps")
    if spec == "cpu":
        return torch.device("cpu")
    raise GenlensError(f"unknown device '{spec}'; use auto, cpu, cuda, cuda:N or mps")


def _local_cuda() -> torch.device:
    """``cuda``, or under a launcher with several processes (``WORLD_SIZE`` > 1) this process's own GPU,
    ``cuda:$LOCAL_RANK``, so that nothing lands on GPU 0 in every process before Accelerate places the model."""
    import os

    if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1 and os.environ.get("LOCAL_RANK", "").isdigit():
        return torch.device(f"cuda:{int(os.environ['LOCAL_RANK'])}")
    return torch.device("cuda")
