"""genlens: see what image models learned and make them generate.

The public API mirrors the CLI (see DESIGN.md section 1). Heavy submodules are imported lazily so
that ``import genlens`` stays fast.
"""
from __future__ import annotations

__version__ = "0.1.0"

from genlens.errors import GenlensError

__all__ = ["GenlensError", "__version__", "invert", "load_data", "load_model", "shipped_models", "wrap",
           "zoo_names"]


def load_model(name_or_dir: str, *, device: str = "cpu", allow_download: bool = False):
    """Load a zoo model (``fmnist-cnn`` ...), a checkpoint folder or ``timm:NAME[:FILE]`` as a :class:`ModelHandle`;
    ``allow_download`` lets ``timm:NAME`` without a local file fetch timm's weights (off: never the network)."""
    from genlens.models.load import load_model as _load

    return _load(name_or_dir, device=device, allow_download=allow_download)


def wrap(module, **kwargs):
    """Any PyTorch classifier as a :class:`~genlens.models.handle.ModelHandle` (mean, std, input_size, class
    names): see :func:`genlens.models.wrap.wrap`."""
    from genlens.models.wrap import wrap as _wrap

    return _wrap(module, **kwargs)


def zoo_names() -> list[str]:
    from genlens.models.zoo import ZOO

    return ZOO.available()


def shipped_models():
    """Every shipped model of every kind (name, kind, task, headline number): ``genlens models list``."""
    from genlens.models.catalog import shipped_models as _shipped

    return _shipped()


def load_data(spec: str, **kwargs):
    """Images from a data spec (``fashion-mnist:test``, ``folder:PATH``, ``npz:PATH``): see
    :func:`genlens.data.spec.load_data`."""
    from genlens.data.spec import load_data as _load

    return _load(spec, **kwargs)


def invert(model, targets, **kwargs):
    """Class images from a classifier: see :func:`genlens.inversion.api.invert`."""
    from genlens.inversion.api import invert as _invert

    return _invert(model, targets, **kwargs)
