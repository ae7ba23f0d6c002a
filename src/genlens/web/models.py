"""Which panel a model given to ``genlens explore`` belongs to: generators (GAN panel), diffusion models
(diffusion panel) or classifiers (Grad-CAM, units, inversions)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from genlens.errors import GenlensError

SHIPPED_GANS = ("fmnist-eqgan", "fmnist-gan", "fmnist-sel-only")
# trained on fashion-scenes: listed when their weights are there (all three ship; a slim checkout without them
# trains them with `genlens gan train --data fashion-scenes`)
SCENE_GANS = ("scenes-gan-layout", "scenes-eqgan", "scenes-gan")
SHIPPED_DIFFUSION = ("fmnist-ddpm", "fmnist-ddpm-text")
SCENE_DIFFUSION = ("scenes-ddpm-layout",)  # listed when its weights are there (layout items in the diffusion panel)
TAKES = ("the explorer takes GAN folders (`genlens gan train`), diffusion folders (`genlens diffusion train`), "
         "classifier folders and the shipped names")


@dataclass
class Sorted:
    gans: list[str] = field(default_factory=list)
    classifiers: list[str] = field(default_factory=list)
    diffusion: list[str] = field(default_factory=list)


def shipped_gans() -> tuple[str, ...]:
    """The Fashion-MNIST GANs and every fashion-scenes GAN whose weights are present."""
    from genlens.gan import gan_folder

    present = []
    for name in SCENE_GANS:
        try:
            gan_folder(name)
        except GenlensError:  # not trained here
            continue
        present.append(name)
    return (*SHIPPED_GANS, *present)


def shipped_diffusion() -> tuple[str, ...]:
    """The Fashion-MNIST diffusion models and the layout model when its weights are present."""
    from genlens.models.load import shipped_folder

    present = tuple(n for n in SCENE_DIFFUSION if (shipped_folder(n) / "config.json").is_file())
    return (*SHIPPED_DIFFUSION, *present)


def sort_models(names: list[str]) -> Sorted:
    """``names`` -> generators, classifiers and diffusion models; empty ``names`` means every shipped model."""
    from genlens import zoo_names

    zoo = zoo_names()
    if not names:
        return Sorted(list(shipped_gans()), zoo, list(shipped_diffusion()))
    out = Sorted()
    for name in names:
        if name in SHIPPED_GANS:
            out.gans.append(name)
        elif name in SCENE_GANS:
            from genlens.gan import gan_folder

            gan_folder(name)  # one line saying how to train it when its weights are not there
            out.gans.append(name)
        elif name in SHIPPED_DIFFUSION:
            out.diffusion.append(name)
        elif name in SCENE_DIFFUSION:
            from genlens.diffusion.pipeline import resolve_model

            resolve_model(name)  # one line saying how to train it when its weights are not there
            out.diffusion.append(name)
        elif name in zoo:
            out.classifiers.append(name)
        elif (Path(name) / "config.json").is_file():
            try:
                kind = json.loads((Path(name) / "config.json").read_text()).get("kind", "classifier")
            except (OSError, ValueError, AttributeError):
                raise GenlensError(f"'{name}/config.json' is not readable JSON; {TAKES}") from None
            if kind == "gan":
                out.gans.append(name)
            elif kind == "classifier":
                out.classifiers.append(name)
            elif kind in ("diffusion-class", "diffusion-text", "diffusion-layout"):
                out.diffusion.append(name)
            else:
                raise GenlensError(f"'{name}' holds a {kind} model; {TAKES} (diffusion: class-, text- or "
                                   "layout-conditional)")
        else:
            shipped = ", ".join((*shipped_gans(), *shipped_diffusion(), *zoo))
            raise GenlensError(f"'{name}' is neither a shipped model ({shipped}) nor a model folder; {TAKES}")
    return out
