"""One way to turn typed dataclass configs into JSON data and back, and to read old config files.

``to_dict(config)`` gives plain JSON data (tuples as lists, nested dataclasses as objects).
``from_dict(Cls, data, where=...)`` rebuilds the dataclass: lists become tuples where the field is a tuple,
nested dataclass fields are rebuilt, and every problem (not an object, an unknown key, a missing key, a
value of the wrong kind) is one :class:`GenlensError` line naming the file and the key.

Old files are read through a :class:`Migration`, the single place where a config's history is written
down: keys that were renamed, keys added later (with the value older files implicitly had) and keys that
were removed (with the only value that still loads: the one the removed option meant by default).
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from genlens.errors import GenlensError

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Migration:
    """How files written by older versions map onto today's fields.

    ``renamed``: old key -> new key. ``added``: key -> value a file without it had (the behaviour before
    the key existed). ``removed``: key -> the value under which the file still means today's behaviour;
    any other value is refused, naming the key (the option left the library)."""

    renamed: Mapping[str, str] = dataclasses.field(default_factory=dict)
    added: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    removed: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def apply(self, data: Mapping[str, Any], *, where: str) -> dict[str, Any]:
        out = dict(data)
        for old, new in self.renamed.items():
            if old in out:
                if new in out:
                    raise GenlensError(f"{where} has both '{old}' and its new name '{new}'; keep only '{new}'")
                out[new] = out.pop(old)
        for key, legacy in self.added.items():
            out.setdefault(key, legacy)
        for key, allowed in self.removed.items():
            if key in out:
                value = out.pop(key)
                if _jsonable(value) != _jsonable(allowed):
                    raise GenlensError(f"{where} sets '{key}' = {value!r}, an option genlens no longer has "
                                       f"(only {allowed!r} loads); use a model written by this version")
        return out


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def to_dict(config: Any) -> dict[str, Any]:
    """A dataclass instance as plain JSON data (tuples become lists, paths strings)."""
    if not (dataclasses.is_dataclass(config) and not isinstance(config, type)):
        raise TypeError(f"to_dict takes a dataclass instance, got {type(config).__name__}")
    return _jsonable(dataclasses.asdict(config))


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def _convert(value: Any, tp: Any, *, key: str, where: str) -> Any:
    tp, optional = _unwrap_optional(tp)
    if value is None:
        if optional or tp is Any:
            return None
        raise GenlensError(f"{where}: '{key}' is null but must be set; fix or remove the key")
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return from_dict(tp, value, where=f"{where} '{key}'")
    origin = typing.get_origin(tp)
    if origin is tuple or tp is tuple:
        if not isinstance(value, (list, tuple)):
            raise GenlensError(f"{where}: '{key}' must be a list, got {value!r}")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], key=key, where=where) for v in value)
        if args and len(args) != len(value):
            raise GenlensError(f"{where}: '{key}' must have {len(args)} entries, got {value!r}")
        return tuple(_convert(v, a, key=key, where=where) for v, a in zip(value, args or [Any] * len(value)))
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise GenlensError(f"{where}: '{key}' must be a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
            raise GenlensError(f"{where}: '{key}' must be a whole number, got {value!r}")
        return int(value)
    if tp is bool and not isinstance(value, bool):
        raise GenlensError(f"{where}: '{key}' must be true or false, got {value!r}")
    if tp is str and not isinstance(value, str):
        raise GenlensError(f"{where}: '{key}' must be a string, got {value!r}")
    return value


def from_dict(cls: type[T], data: Any, *, where: str = "config", migration: Migration | None = None) -> T:
    """Rebuild dataclass ``cls`` from JSON data; one-line errors name ``where`` (a file, a key) and the key."""
    if not isinstance(data, Mapping):
        raise GenlensError(f"{where} must be a JSON object, got {type(data).__name__}; rewrite the file")
    if migration is not None:
        data = migration.apply(data, where=where)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise GenlensError(f"{where} has unknown key(s) {', '.join(map(repr, unknown))}; it was written by another "
                           "version of genlens, or the key is misspelt")
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _convert(data[name], hints.get(name, Any), key=name, where=where)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise GenlensError(f"{where} lacks the key '{name}'; rewrite the file with this version of genlens")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise GenlensError(f"{where} holds an invalid {cls.__name__}: {msg}") from None


def read_json_file(path: str | Path, *, what: str = "") -> Any:
    """Parse a JSON file; a missing, unreadable or invalid file is one line naming it and where it broke."""
    path = Path(path)
    label = f"{what} '{path}'" if what else f"'{path}'"
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise GenlensError(f"{label} does not exist; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GenlensError(f"{label} cannot be read ({type(exc).__name__}); check the file") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise GenlensError(f"{label} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                           "fix or regenerate the file") from None
