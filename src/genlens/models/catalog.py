"""Every shipped model of every kind, read generically from ``models/weights/*/{config,manifest}.json``.

One row per folder: its name, kind (the ``kind`` its config.json declares), the task it serves and a
headline number taken from its manifest's metrics. Nothing here imports the GAN or diffusion packages:
a new kind of model appears in the list as soon as its folder ships.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from genlens.utils.io import read_json

WEIGHTS_ROOT = Path(__file__).parent / "weights"

# kind (or kind prefix before "-") -> the task it serves; an unknown kind shows itself
TASKS: dict[str, str] = {
    "classifier": "classify garments",
    "evaluator": "score generated images",
    "clip": "match images and text",
    "gan": "generate garments",
    "diffusion-class": "generate a given class",
    "diffusion-text": "generate from a text prompt",
    "diffusion": "generate garments",
}

# manifest metric key -> how the headline names it, in order of preference
_SCALARS: tuple[tuple[str, str], ...] = (
    ("top1", "test top-1"),
    ("zero_shot_top1", "zero-shot top-1"),
    ("final_loss", "final loss"),
)


@dataclasses.dataclass(frozen=True)
class ShippedModel:
    """One shipped model folder, as ``genlens models list`` shows it."""

    name: str
    kind: str
    task: str
    metric: str | None  # what the headline number measures, e.g. "test top-1"
    value: float | None
    description: str
    folder: str


def _task(kind: str, manifest: dict[str, Any]) -> str:
    role = manifest.get("role")
    if isinstance(role, str) and role:
        return role.split(":")[0].split(" (")[0]
    return TASKS.get(kind) or TASKS.get(kind.split("-")[0], kind)


def headline(metrics: Any) -> tuple[str | None, float | None]:
    """(what it measures, value) of a manifest's metrics: an explicit ``headline`` object first, then an
    FID object (named by its extractor and sample count), then the first known scalar; (None, None) if none."""
    if not isinstance(metrics, dict):
        return None, None
    explicit = metrics.get("headline")
    if isinstance(explicit, dict) and isinstance(explicit.get("value"), (int, float)):
        return str(explicit.get("metric", "headline")), float(explicit["value"])
    for key, label in _SCALARS[:2]:
        if isinstance(metrics.get(key), (int, float)):
            return label, float(metrics[key])
    fid = metrics.get("fid")
    if isinstance(fid, dict) and isinstance(fid.get("value"), (int, float)):
        return f"FID {fid.get('extractor', '?')} n={fid.get('n_fake', '?')}", float(fid["value"])
    for key, label in _SCALARS[2:]:
        if isinstance(metrics.get(key), (int, float)):
            return label, float(metrics[key])
    return None, None


def _description(cfg: dict[str, Any]) -> str:
    spec = cfg.get("spec")
    if isinstance(spec, dict) and spec.get("description"):
        return str(spec["description"])
    gan = cfg.get("gan")
    if isinstance(gan, dict) and gan.get("arch"):
        return f"{gan['arch']} generator"
    model = cfg.get("model")
    if isinstance(model, dict) and model.get("text_encoder"):
        return f"image tower vs the frozen {model['text_encoder']} text encoder"
    unet = cfg.get("unet")
    if isinstance(unet, dict):
        text = f", text encoder {cfg['text_encoder']}" if cfg.get("text_encoder") else ""
        return f"UNet {tuple(unet.get('block_out_channels', ()))}, {unet.get('cond', '?')}-conditioned{text}"
    return ""


def shipped_models(root: str | Path = WEIGHTS_ROOT) -> list[ShippedModel]:
    """The model folders under ``root`` (a folder with a config.json), sorted by kind then name."""
    rows = []
    for folder in sorted(p for p in Path(root).iterdir() if (p / "config.json").is_file()):
        cfg = read_json(folder / "config.json")
        cfg = cfg if isinstance(cfg, dict) else {}
        mpath = folder / "manifest.json"
        manifest = read_json(mpath) if mpath.is_file() else {}
        manifest = manifest if isinstance(manifest, dict) else {}
        kind = str(cfg.get("kind", "classifier"))  # the first configs genlens wrote had no kind
        metric, value = headline(manifest.get("metrics"))
        rows.append(ShippedModel(name=folder.name, kind=kind, task=_task(kind, manifest), metric=metric,
                                 value=value, description=_description(cfg), folder=str(folder)))
    return sorted(rows, key=lambda r: (r.kind, r.name))
