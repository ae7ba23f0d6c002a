"""Which panel a model given to ``genlens explore`` belongs to: generators (GAN panel) or classifiers."""
from __future__ import annotations

import json
from pathlib import Path

from genlens.errors import GenlensError

SHIPPED_GANS = ("fmnist-eqgan", "fmnist-gan", "fmnist-sel-only")
TAKES = "the explorer takes GAN folders (`genlens gan train`), classifier folders and the shipped names"


def sort_models(names: list[str]) -> tuple[list[str], list[str]]:
    """``names`` -> (generators, classifiers); empty ``names`` means every shipped model."""
    from genlens import zoo_names

    zoo = zoo_names()
    if not names:
        return list(SHIPPED_GANS), zoo
    gans, classifiers = [], []
    for name in names:
        if name in SHIPPED_GANS:
            gans.append(name)
        elif name in zoo:
            classifiers.append(name)
        elif (Path(name) / "config.json").is_file():
            try:
                kind = json.loads((Path(name) / "config.json").read_text()).get("kind", "classifier")
            except (OSError, ValueError, AttributeError):
                raise GenlensError(f"'{name}/config.json' is not readable JSON; {TAKES}") from None
            if kind == "gan":
                gans.append(name)
            elif kind == "classifier":
                classifiers.append(name)
            else:
                raise GenlensError(f"'{name}' holds a {kind} model; {TAKES}")
        else:
            raise GenlensError(f"'{name}' is neither a shipped model ({', '.join((*SHIPPED_GANS, *zoo))}) "
                               f"nor a model folder; {TAKES}")
    return gans, classifiers
