"""The shipped weight folders: small, hashed, reproducible, and as accurate as issue 2 asks."""
from __future__ import annotations

import json
import re

import pytest

from genlens.models.zoo import get_spec
from genlens.utils.io import sha256_file

TARGETS = {"genlens-eval": 0.93, "fmnist-cnn": 0.93, "fmnist-mixer": 0.89, "fmnist-resmlp": 0.89, "fmnist-vit": 0.89}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_manifest(shipped_dir, name):
    folder = shipped_dir(name)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["sha256"]["model.safetensors"] == sha256_file(folder / "model.safetensors")
    assert manifest["command"].startswith(f"genlens zoo train {name} ")
    assert re.fullmatch(r"[0-9a-f]{40}", manifest["git_commit"])
    top1 = manifest["metrics"]["top1"]
    assert top1 >= TARGETS[name] == get_spec(name).target_top1
    assert manifest["metrics"]["test_images"] == 10000
    assert manifest["metrics"]["top5"] >= top1


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_config(shipped_dir, name):
    config = json.loads((shipped_dir(name) / "config.json").read_text())
    assert config["kind"] == "classifier" and config["name"] == name
    assert config["spec"]["arch"] == get_spec(name).arch


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_weights_are_small(shipped_dir, name):
    assert (shipped_dir(name) / "model.safetensors").stat().st_size < 10 * 1024 * 1024
