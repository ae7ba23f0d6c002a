"""Top-1 / top-5 / per-class accuracy and the confusion matrix of a classifier handle."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from genlens.data.base import ImageData
from genlens.models.handle import ModelHandle


@dataclass
class EvalReport:
    top1: float
    top5: float
    per_class: dict[str, float]
    confusion: torch.Tensor  # (K, K) counts, rows = true class, columns = predicted
    n: int


def evaluate_classifier(handle: ModelHandle, data: ImageData, *, batch_size: int = 1000) -> EvalReport:
    logits = handle.predict(data.float_images(), batch_size=batch_size)
    y = data.labels
    k = handle.num_classes
    top = logits.topk(min(5, k), dim=1).indices
    top1 = (top[:, 0] == y).float()
    top5 = (top == y[:, None]).any(1).float()
    conf = torch.zeros(k, k, dtype=torch.long)
    conf.index_put_((y, top[:, 0]), torch.ones_like(y), accumulate=True)
    per = {}
    for c, name in enumerate(handle.class_names):
        m = y == c
        per[name] = float(top1[m].mean()) if m.any() else float("nan")
    return EvalReport(top1=float(top1.mean()), top5=float(top5.mean()), per_class=per, confusion=conf, n=len(y))


def classifier_data(handle: ModelHandle, spec: str | None = None, *, split: str = "test",
                    data_dir: str | os.PathLike | None = None, limit: int | None = None,
                    resolution: int | None = None) -> ImageData:
    """The images to evaluate ``handle`` on, preprocessed as it was trained (``handle.meta["data"]``, a
    :class:`~genlens.data.options.DataOptions`; Fashion-MNIST for the shipped models): ``spec`` (default: its
    own data; a folder or .npz it trained on gives the held-out 10%) at its channels and, for its own data or
    with ``resolution``, its size. Images of another size than a genlens-trained model's: one line naming both."""
    from genlens.data.options import DataOptions, apply_options
    from genlens.data.spec import load_data, parse_data_spec
    from genlens.models.zoo.train_arch import holdout_split
    from genlens.utils.data_record import FMNIST, check_resolution

    recorded = handle.meta.get("data")  # None: a handle genlens did not train (timm, wrap), which resizes itself
    trained = recorded or FMNIST
    c, h, _ = handle.input_size
    own = spec is None or spec == trained.spec
    spec = trained.spec if spec is None else spec
    res = resolution or (trained.resolution if own else None)
    parsed = parse_data_spec(spec)
    holdout = own and parsed.kind != "name"
    data = load_data(spec, split=split, data_dir=data_dir, channels=c, size=res, class_names=handle.class_names,
                     limit=None if holdout else limit)
    if holdout:
        data = holdout_split(data)[1]
        data = data.take(limit) if limit else data
    data = apply_options(data, DataOptions(spec, res, c))
    if recorded is not None:
        check_resolution(h, int(data.images.shape[-1]), model=handle.name, data=spec)
    return data
