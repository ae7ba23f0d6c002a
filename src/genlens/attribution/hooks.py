"""Forward hooks owned by an object and released by a context manager (STYLE.md principle 8).

``ActivationCapture`` keeps a module's forward output *as the graph node the rest of the model consumes*,
so gradients can be taken with respect to it (Grad-CAM) and, when asked, it stays differentiable for a
second backward pass (EqGAN-SA trains the generator through a discriminator's CAM).

Hooks are removed in ``__exit__`` whatever happened inside the block; exceptions are never swallowed.
"""
from __future__ import annotations

from types import TracebackType
from typing import Self

import torch
from torch import nn

from genlens.errors import GenlensError


class ActivationCapture:
    """Capture the output of ``module`` on every forward pass while the context is open.

    Example::

        with ActivationCapture(model.stages[-1]) as cap:
            logits = model(x)
        acts = cap.output          # (B, C, h, w), still attached to the autograd graph

    If the output does not require grad (frozen parameters and plain inputs) and grad mode is on, the rest
    of the model receives a grad-requiring copy instead, so gradients with respect to it exist. As with
    any forward hook, an in-place op right after the layer (``ReLU(inplace=True)``) modifies the captured
    tensor: gradients are then those of the modified value.
    ``outputs`` holds one tensor per call; :attr:`output` insists on exactly one.
    """

    def __init__(self, module: nn.Module, *, name: str | None = None) -> None:
        if not isinstance(module, nn.Module):
            raise TypeError(f"ActivationCapture needs an nn.Module, got {type(module).__name__}")
        self.module = module
        self.name = name or type(module).__name__
        self.outputs: list[torch.Tensor] = []
        self._handle: torch.utils.hooks.RemovableHandle | None = None

    # --- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> Self:
        if self._handle is not None:
            raise RuntimeError("ActivationCapture is already active; it is not re-entrant")
        self.outputs = []
        self._handle = self.module.register_forward_hook(self._hook)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.remove()  # returning None: any exception propagates unchanged

    def remove(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    @property
    def active(self) -> bool:
        return self._handle is not None

    # --- the hook ------------------------------------------------------------------------------
    def _hook(self, module: nn.Module, inputs: tuple[object, ...], output: object) -> torch.Tensor | None:
        if not isinstance(output, torch.Tensor):
            raise GenlensError(
                f"layer '{self.name}' returns {type(output).__name__}, not a tensor; "
                "pick a layer whose output is a single tensor"
            )
        if torch.is_grad_enabled() and not output.requires_grad:
            # No history (frozen weights, plain inputs): hand the rest of the model a fresh graph node.
            # A clone of a grad-requiring leaf, so a later in-place op (ReLU(inplace=True)) is still legal.
            output = output.detach().requires_grad_(True).clone()
            self.outputs.append(output)
            return output  # replaces the module's output
        self.outputs.append(output)
        return None

    @property
    def output(self) -> torch.Tensor:
        """The single captured output; a one-line error if the layer ran zero or several times."""
        if not self.outputs:
            raise GenlensError(
                f"layer '{self.name}' did not run during the forward pass; pick a layer the model uses"
            )
        if len(self.outputs) > 1:
            raise GenlensError(
                f"layer '{self.name}' ran {len(self.outputs)} times in one forward pass (shared weights?); "
                "pick a layer that runs once"
            )
        return self.outputs[0]
