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
            return torch.device("cuda")
        return torch.device("cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise GenlensError(f"--device {spec} asked for, but no CUDA GPU is visible; use --device cpu or auto")
        return torch.device(spec)
    if spec == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise GenlensError("--device mps asked for, but MPS is not available; use --device cpu or auto")
        return torch.device("mps")
    if spec == "cpu":
        return torch.device("cpu")
    raise GenlensError(f"unknown device '{spec}'; use auto, cpu, cuda, cuda:N or mps")
