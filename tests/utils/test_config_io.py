"""The one dataclass <-> dict helper and its migrations."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from genlens.errors import GenlensError
from genlens.utils.config_io import Migration, from_dict, read_json_file, to_dict


@dataclass(frozen=True)
class Inner:
    width: int = 8
    sigmas: tuple[float, ...] = (1.0, 2.0)


@dataclass(frozen=True)
class Outer:
    name: str
    lr: float = 1e-3
    interval: tuple[int, int] | None = None
    inner: Inner = field(default_factory=Inner)
    flag: bool = False


def test_round_trip_restores_tuples_and_nested():
    cfg = Outer(name="a", lr=2e-4, interval=(150, 500), inner=Inner(width=16, sigmas=(0.5,)), flag=True)
    data = to_dict(cfg)
    assert data["interval"] == [150, 500] and data["inner"] == {"width": 16, "sigmas": [0.5]}
    assert from_dict(Outer, json.loads(json.dumps(data))) == cfg


def test_defaults_fill_missing_optional_keys_and_ints_become_floats():
    cfg = from_dict(Outer, {"name": "b", "lr": 1})
    assert cfg == Outer(name="b", lr=1.0) and isinstance(cfg.lr, float)


@pytest.mark.parametrize(("data", "needle"), [
    ({"name": "a", "lrr": 1.0}, "'lrr'"),
    ({}, "'name'"),
    ({"name": "a", "lr": "fast"}, "'lr' must be a number"),
    ({"name": "a", "interval": [1, 2, 3]}, "'interval' must have 2 entries"),
    ({"name": "a", "inner": {"width": 1.5}}, "'width' must be a whole number"),
    ({"name": "a", "flag": 1}, "'flag' must be true or false"),
    ([1, 2], "must be a JSON object"),
])
def test_bad_data_is_one_line_naming_file_and_key(data, needle):
    with pytest.raises(GenlensError) as err:
        from_dict(Outer, data, where="run/config.json")
    msg = str(err.value)
    assert "\n" not in msg and needle in msg and "run/config.json" in msg


def test_migration_renames_adds_and_removes():
    mig = Migration(renamed={"learning_rate": "lr"}, added={"flag": True}, removed={"heat_sigmas": "narrow"})
    cfg = from_dict(Outer, {"name": "a", "learning_rate": 0.5, "heat_sigmas": "narrow"}, migration=mig)
    assert cfg == Outer(name="a", lr=0.5, flag=True)
    with pytest.raises(GenlensError, match="'heat_sigmas' = 'official'.*no longer"):
        from_dict(Outer, {"name": "a", "heat_sigmas": "official"}, migration=mig)
    with pytest.raises(GenlensError, match="both 'learning_rate' and its new name 'lr'"):
        from_dict(Outer, {"name": "a", "learning_rate": 1, "lr": 2}, migration=mig)


def test_read_json_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "manifest.json"
    bad.write_text('{"sha256": ')
    with pytest.raises(GenlensError, match=r"manifest.json' is not valid JSON \(line 1"):
        read_json_file(bad, what="manifest")
    with pytest.raises(GenlensError, match="does not exist"):
        read_json_file(tmp_path / "nope.json")
    (tmp_path / "ok.json").write_text('{"a": 1}')
    assert read_json_file(tmp_path / "ok.json") == {"a": 1}
