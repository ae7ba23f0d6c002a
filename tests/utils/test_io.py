"""Atomic writes: all or nothing, no temp files left behind, normal permissions."""
from __future__ import annotations

import json
import os
import stat

import pytest

from genlens.utils.io import atomic_write, atomic_write_bytes, atomic_write_json, read_json, sha256_file


class Boom(RuntimeError):
    pass


def _fail_halfway(p):
    p.write_text("half a new file")
    raise Boom


def test_failed_writer_keeps_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "state.json"
    target.write_text("old")
    with pytest.raises(Boom):
        atomic_write(target, _fail_halfway)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_failed_first_write_creates_nothing(tmp_path):
    with pytest.raises(Boom):
        atomic_write(tmp_path / "sub" / "new.bin", _fail_halfway)
    assert list((tmp_path / "sub").iterdir()) == []


def test_keyboard_interrupt_also_cleans_up(tmp_path):
    def interrupted(p):
        p.write_bytes(b"x")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "a", interrupted)
    assert list(tmp_path.iterdir()) == []


def test_files_get_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_write_bytes(tmp_path / "w.bin", b"abc")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's 0600
    assert os.umask(old) == old  # the helper restored the process umask


def test_replace_and_helpers(tmp_path):
    path = tmp_path / "deep" / "x.json"
    atomic_write_json(path, {"b": 1, "a": [1, 2]})
    atomic_write_json(path, {"b": 2, "a": None})
    assert read_json(path) == {"a": None, "b": 2}
    assert path.read_text().endswith("\n")
    assert json.loads(path.read_text()) == {"a": None, "b": 2}
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]


def test_sha256_file(tmp_path):
    path = atomic_write_bytes(tmp_path / "abc", b"abc")
    assert sha256_file(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha256_file(path, chunk=1) == sha256_file(path)
