"""Shipped model folders are never written: model folders, checkpoints and --out all refuse them."""
from __future__ import annotations

import pytest
from torch import nn

from genlens.errors import GenlensError
from genlens.models.weights_io import save_model_folder
from genlens.training.checkpoint import save_checkpoint
from genlens.utils.shipped import ALLOW_ENV, SHIPPED_ROOT, is_shipped, refuse_shipped


def test_writers_refuse_the_shipped_root(monkeypatch):
    monkeypatch.delenv(ALLOW_ENV, raising=False)
    target = SHIPPED_ROOT / "fmnist-cnn"
    before = sorted((p.name, p.stat().st_mtime_ns) for p in target.iterdir())
    with pytest.raises(GenlensError, match="pass --out"):
        save_model_folder(target, nn.Linear(2, 2), config={}, command="x", metrics={})
    with pytest.raises(GenlensError, match="pass --out"):
        save_checkpoint(target / "run", step=1, model=nn.Linear(2, 2))
    assert sorted((p.name, p.stat().st_mtime_ns) for p in target.iterdir()) == before


def test_other_folders_and_the_maintainer_switch(tmp_path, monkeypatch):
    assert not is_shipped(tmp_path) and is_shipped(SHIPPED_ROOT / "x" / ".." / "y")
    refuse_shipped(tmp_path)
    monkeypatch.setenv(ALLOW_ENV, "1")
    refuse_shipped(SHIPPED_ROOT / "fmnist-cnn")


def test_cli_out_in_shipped_is_one_line(cli, monkeypatch):
    monkeypatch.delenv(ALLOW_ENV, raising=False)
    code, out, err = cli(["zoo", "train", "fmnist-cnn", "--out", str(SHIPPED_ROOT / "fmnist-cnn")])
    assert code == 2 and out == "" and err.count("\n") == 1 and "shipped models" in err
