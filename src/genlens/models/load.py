"""``load_model(name_or_folder)``: zoo names resolve to the shipped weights inside the package."""
from __future__ import annotations

import os
from pathlib import Path

from genlens.errors import GenlensError
from genlens.models.catalog import WEIGHTS_ROOT
from genlens.models.handle import ModelHandle
from genlens.models.weights_io import WEIGHTS_FILE, load_state_into, read_folder_config, read_state, verify_manifest
from genlens.utils.device import resolve_device


def shipped_folder(name: str) -> Path:
    return WEIGHTS_ROOT / name


def cached_timm_weights(arch: str, *, allow_download: bool = False) -> Path | None:
    """The weights of timm's ``arch`` in the local Hugging Face cache, found without any network access.

    Absent: None when ``allow_download`` (the caller then lets timm fetch them), else a one-line error at once
    (timm's own download would retry the network for about a minute)."""
    import huggingface_hub
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(arch)
    repo = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
    for filename in ("model.safetensors", "pytorch_model.bin"):
        found = huggingface_hub.try_to_load_from_cache(repo, filename) if repo else None
        if isinstance(found, str):
            return Path(found)
    if allow_download:
        return None
    where = f"the Hugging Face cache has no {repo}" if repo else f"timm names no Hugging Face weights for '{arch}'"
    raise GenlensError(f"timm:{arch}: {where} and genlens never downloads unless asked; pass --allow-download "
                       f"(Python: allow_download=True) or a local file as timm:{arch}:<weights file>")


def load_model(name_or_dir: str | os.PathLike, *, device: str = "cpu", weights: str | os.PathLike | None = None,
               verify: bool = True, allow_download: bool = False) -> ModelHandle:
    """A classifier handle from a zoo name (shipped weights), a model folder, or ``timm:<arch>:<weights file>``
    (see :mod:`genlens.models.external`).

    ``weights`` overrides the weight file (a .safetensors file for the same architecture). ``allow_download``
    lets ``timm:<arch>`` without a file fetch timm's pretrained weights through timm's own loader when they are
    not in the local cache; off (the default), nothing here touches the network.
    """
    from genlens.models.zoo import EVALUATORS, ZOO

    text = str(name_or_dir)
    named = text in ZOO or text in EVALUATORS
    if text.startswith("timm:"):
        from genlens.models.external import load_timm, parse_timm_spec

        arch, file = parse_timm_spec(text)
        file = file or cached_timm_weights(arch, allow_download=allow_download)
        return load_timm(arch, file, download=file is None, device=resolve_device(device))
    if named:
        folder = shipped_folder(text)
        if not (folder / WEIGHTS_FILE).is_file() and weights is None:
            raise GenlensError(_missing_weights(text, folder))
    else:
        folder = Path(text)
        if not folder.is_dir():
            ZOO.get(text)  # raises: unknown zoo model, lists the names
    return _load_folder(folder, device=device, weights=weights, verify=verify, zoo_name=text if named else None)


def _missing_weights(name: str, folder: Path) -> str:
    from genlens.models.zoo import EVALUATORS, get_spec

    if name in EVALUATORS:  # never shipped by accident: say exactly how to make it
        return (f"no trained weights for the evaluator '{name}' at {folder}; train it with `genlens zoo train "
                f"{name} --seed {get_spec(name).train.seed} --out DIR` and copy DIR's files into that folder")
    return f"no trained weights for '{name}' at {folder}; run `genlens zoo train {name}`"


def _load_folder(folder: Path, *, device: str, weights, verify: bool, zoo_name: str | None) -> ModelHandle:
    from genlens.models.zoo.specs import get_spec
    from genlens.models.zoo.train import make_handle
    from genlens.models.zoo.train_arch import build_spec, is_arch

    cfg_path = folder / "config.json"
    if zoo_name and not cfg_path.is_file():
        name = zoo_name
    else:
        cfg = read_folder_config(folder, kinds=("classifier",), what="a classifier",
                                 fix="pass a zoo name or a classifier folder written by genlens")
        name = cfg.get("name", zoo_name) if isinstance(cfg, dict) else None
        if not isinstance(name, str):
            raise GenlensError(f"'{cfg_path}' has no \"name\" key (the zoo architecture, e.g. fmnist-cnn); "
                               "restore the file or retrain the model")
    spec = _arch_spec(cfg, folder) if zoo_name is None and is_arch(name) else get_spec(name)
    if weights is None:
        manifest = verify_manifest(folder) if verify else {}
        wpath = folder / WEIGHTS_FILE
    else:
        manifest, wpath = {}, Path(weights)
    model = build_spec(spec)
    load_state_into(model, read_state(wpath), what=f"'{wpath}'", arch=name)
    model.eval()
    handle = make_handle(spec, model).to(resolve_device(device))
    handle.meta.update({"folder": str(folder), "manifest": manifest, "data": _data_options(folder)})
    return handle


def _arch_spec(cfg: dict, folder: Path):
    """The :class:`ZooSpec` a folder trained by ``genlens zoo train ARCH`` stores (its network, sizes, classes)."""
    from genlens.models.zoo.specs import ZooSpec
    from genlens.utils.config_io import from_dict

    return from_dict(ZooSpec, cfg.get("spec"), where=f"'{folder / 'config.json'}' spec")


def _data_options(folder: Path):
    """The DataOptions a classifier folder records (config.json "data"); Fashion-MNIST for older folders."""
    from genlens.utils.data_record import FMNIST, read_data_options
    from genlens.utils.io import read_json

    path = folder / "config.json"
    return read_data_options(read_json(path), where=f"'{path}'") if path.is_file() else FMNIST
