"""Pluggable feature extractors for FID/KID/IS (DESIGN.md section 3, "Metrics").

An extractor turns [0, 1] images (N, C, H, W) into features (N, D) and logits (N, K), batched, under
``no_grad`` and ``eval_mode``, on its model's device; outputs come back as float32 on the CPU.
Registered: ``genlens-fmnist`` (our shipped CNN's penultimate layer, the default, a development metric),
``genlens-eval`` (the evaluator's penultimate layer, for reported numbers on Fashion-MNIST data) and
``inception`` (the FID Inception-v3 pool features, only from a weights file on disk; ``inception:FILE`` names
the file). Any classifier handle also works through :func:`extractor_for`: a zoo model name, a trained model
folder, ``timm:NAME[:FILE]`` or a :class:`ModelHandle` (e.g. from ``genlens.wrap``). Images of another size or
channel count are converted to what the extractor takes (channels here, size by the handle).

Every extractor's ``name`` says what produced the features, and every metric result records it: only
``inception`` (pytorch-fid's weights) gives FIDs comparable with published numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch

from genlens.errors import GenlensError
from genlens.models.handle import ModelHandle
from genlens.registry import Registry
from genlens.utils.modes import eval_mode


@runtime_checkable
class FeatureExtractor(Protocol):
    name: str

    @property
    def dim(self) -> int: ...

    @property
    def num_classes(self) -> int: ...

    def features(self, images01: torch.Tensor) -> torch.Tensor: ...

    def logits(self, images01: torch.Tensor) -> torch.Tensor: ...


EXTRACTORS: Registry[FeatureExtractor] = Registry("feature extractor")


def match_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, channels, H, W): RGB -> gray by channel mean, gray -> RGB by repetition."""
    c = x.shape[1]
    if c == channels:
        return x
    if channels == 1 and c == 3:
        return x.mean(dim=1, keepdim=True)
    if channels == 3 and c == 1:
        return x.expand(-1, 3, -1, -1)
    raise GenlensError(
        f"cannot convert {c}-channel images to {channels} channels; pass grayscale or RGB images"
    )


class HandleExtractor:
    """Any :class:`ModelHandle` as an extractor: features = penultimate layer, logits = classifier.

    Images are converted to the handle's input (channels here; size and normalisation by the handle).
    """

    def __init__(
        self, handle: ModelHandle, *, name: str | None = None, batch_size: int = 256, dim: int | None = None
    ) -> None:
        if batch_size < 1:
            raise GenlensError(f"batch_size must be >= 1; got {batch_size}")
        self.handle = handle
        self.name = name or handle.name
        self.batch_size = batch_size
        if dim is not None:
            self.dim = dim  # fills the cached property; otherwise one dummy forward finds it

    @property
    def num_classes(self) -> int:
        return self.handle.num_classes

    @cached_property
    def dim(self) -> int:
        c, h, w = self.handle.input_size
        return int(self.features(torch.zeros(1, c, h, w)).shape[1])

    def _run(self, images01: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        h = self.handle
        out = []
        with torch.no_grad(), eval_mode(h.model):
            for i in range(0, images01.shape[0], self.batch_size):
                x = images01[i : i + self.batch_size].to(h.device)
                x = x.float().div(255.0) if x.dtype == torch.uint8 else x.float()
                x = match_channels(x, h.input_size[0])  # (b, C_handle, H, W) in [0, 1]
                out.append(fn(x).float().cpu())
        return torch.cat(out) if out else torch.empty(0, 0)

    def features(self, images01: torch.Tensor) -> torch.Tensor:
        """(N, D) penultimate features."""
        return self._run(images01, self.handle.features)

    def logits(self, images01: torch.Tensor) -> torch.Tensor:
        """(N, K) class logits."""
        return self._run(images01, self.handle)

    def __repr__(self) -> str:
        return f"HandleExtractor({self.name!r})"


@EXTRACTORS.register("genlens-fmnist", description="shipped Fashion-MNIST CNN, penultimate layer")
def _genlens_fmnist(*, device: str = "cpu", batch_size: int = 256) -> HandleExtractor:
    import genlens

    return HandleExtractor(
        genlens.load_model("fmnist-cnn", device=device), name="genlens-fmnist", batch_size=batch_size
    )


@EXTRACTORS.register("genlens-eval", description="the evaluator: a WRN trained only to evaluate, penultimate layer")
def _genlens_eval(*, device: str = "cpu", batch_size: int = 256) -> HandleExtractor:
    import genlens

    # shipped weights only; a missing folder or a sha256 mismatch is one line from load_model
    return HandleExtractor(
        genlens.load_model("genlens-eval", device=device), name="genlens-eval", batch_size=batch_size
    )


@EXTRACTORS.register("inception", description="FID Inception-v3 2048-d pool (local pytorch-fid weights file)")
def _inception(*, device: str = "cpu", batch_size: int = 64, path: str | None = None) -> HandleExtractor:
    from genlens.metrics.inception import load_inception_handle

    handle = load_inception_handle(device=device, path=Path(path) if path else None)
    return HandleExtractor(handle, name=handle.name, batch_size=batch_size, dim=2048)


def extractor_for(
    spec: str | ModelHandle | FeatureExtractor, *, device: str = "cpu", batch_size: int | None = None,
    allow_download: bool = False,
) -> FeatureExtractor:
    """An extractor from a registered name, ``inception:FILE``, a zoo model name, a model folder,
    ``timm:NAME[:FILE]`` (``allow_download`` lets timm fetch its weights), a handle, or an extractor."""
    from genlens.utils.device import resolve_device

    kw = {} if batch_size is None else {"batch_size": batch_size}
    device = str(resolve_device(device))  # "auto" -> the device every model of this call goes to
    if isinstance(spec, ModelHandle):
        return HandleExtractor(spec, **kw)
    if not isinstance(spec, str):
        if isinstance(spec, FeatureExtractor):
            return spec
        raise GenlensError(
            f"extractor must be a name, a ModelHandle or an extractor; got {type(spec).__name__}"
        )
    if spec in EXTRACTORS:
        return EXTRACTORS.create(spec, device=device, **kw)
    if spec.startswith("inception:"):
        return EXTRACTORS.create("inception", device=device, path=spec.removeprefix("inception:"), **kw)
    import genlens

    if spec.startswith("timm:") or spec in genlens.zoo_names() or Path(spec).is_dir():
        handle = genlens.load_model(spec, device=device, allow_download=allow_download)
        return HandleExtractor(handle, name=spec, **kw)  # the spec itself: a folder's handle is named by its arch
    try:
        EXTRACTORS.get(spec)
    except GenlensError as err:
        raise GenlensError(
            f"{err}; or inception:FILE, a zoo model ({', '.join(genlens.zoo_names())}), a model folder or "
            "timm:NAME[:FILE]"
        ) from None
    raise AssertionError("unreachable")
