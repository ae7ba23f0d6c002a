"""Turn run configs (dataclasses or mappings) into JSON data and say how two of them differ."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from typing import Any

from genlens.errors import GenlensError
from genlens.utils.config_io import to_dict

_MISSING = "<missing>"


def config_to_dict(config: Any) -> dict[str, Any]:
    """A dataclass, a mapping or ``None`` as plain JSON data (tuples become lists, paths strings)."""
    if config is None:
        return {}
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = to_dict(config)
    if not isinstance(config, Mapping):
        raise GenlensError(f"a run config must be a dataclass or a dict, got {type(config).__name__}")
    return json.loads(json.dumps(dict(config), sort_keys=True, default=str))


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, Mapping) and (data or not prefix):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: data}


def config_differences(stored: Any, current: Any, *, ignore: Iterable[str] = (),
                       added: Mapping[str, Any] | None = None) -> list[str]:
    """``["lr (0.001 in checkpoint vs 0.002 now)", ...]``; nested keys are dotted, e.g. ``train.seed``.

    ``added``: dotted keys introduced after some checkpoints were written, with the value those checkpoints
    implicitly had; a stored config without the key counts as holding that value."""
    old = {**(added or {}), **_flatten(config_to_dict(stored))}
    new = _flatten(config_to_dict(current))
    skip = set(ignore)
    diffs = []
    for key in sorted(set(old) | set(new)):
        if key in skip or any(key.startswith(f"{s}.") for s in skip):
            continue
        a, b = old.get(key, _MISSING), new.get(key, _MISSING)
        if a != b:
            show_a = a if a is _MISSING else repr(a)
            show_b = b if b is _MISSING else repr(b)
            diffs.append(f"{key} ({show_a} in checkpoint vs {show_b} now)")
    return diffs


def check_same_config(stored: Any, current: Any, *, ignore: Iterable[str] = (),
                      added: Mapping[str, Any] | None = None) -> None:
    """Raise a one-line :class:`GenlensError` naming every field that differs (``added``: see
    :func:`config_differences`)."""
    diffs = config_differences(stored, current, ignore=ignore, added=added)
    if diffs:
        raise GenlensError(
            f"checkpoint config differs in: {', '.join(diffs)}; start a new run dir or pass the same config"
        )
