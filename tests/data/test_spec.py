"""Data specs: ``NAME[:split]``, ``folder:PATH``, ``npz:PATH`` (and bare paths), one parser, one-line errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genlens.data import load_dataset
from genlens.data.digits import load_digits
from genlens.data.spec import DataSpec, load_data, parse_data_spec
from genlens.errors import GenlensError


def test_parse_names_splits_and_paths(tmp_path):
    assert parse_data_spec("fashion-mnist:test") == DataSpec("name", name="fashion-mnist", split="test")
    assert parse_data_spec("digits") == DataSpec("name", name="digits")
    assert parse_data_spec("folder:some/dir") == DataSpec("folder", path=Path("some/dir"))
    assert parse_data_spec("npz:a.npz") == DataSpec("npz", path=Path("a.npz"))
    assert parse_data_spec(tmp_path) == DataSpec("folder", path=tmp_path)  # a bare existing path
    assert parse_data_spec("x.npz") == DataSpec("npz", path=Path("x.npz"))
    assert str(parse_data_spec("fashion-mnist:test")) == "fashion-mnist:test"


@pytest.mark.parametrize("text,words", [
    ("mnist", "unknown data set 'mnist'; choose one of: digits, fashion-mnist"),
    ("missing/dir", "no such folder"),
    ("folder:", "names no path"),
    ("digits:", "names no split"),
])
def test_bad_specs_are_one_line(text, words):
    with pytest.raises(GenlensError, match=words) as info:
        parse_data_spec(text)
    assert "\n" not in str(info.value)


def test_load_by_spec_matches_the_loaders(tmp_path):
    a = load_data("digits:test")
    assert torch.equal(a.images, load_digits("test").images)
    assert len(load_data("digits", split="test", limit=5)) == 5
    assert torch.equal(load_dataset("digits:test").images, a.images)  # load_dataset takes specs too
    path = tmp_path / "s.npz"
    np.savez(path, images=np.zeros((4, 8, 8), dtype=np.uint8), labels=np.arange(4) % 2)
    assert load_data(f"npz:{path}").images.shape == (4, 1, 8, 8)
    (tmp_path / "imgs" / "Bag").mkdir(parents=True)
    Image.new("L", (10, 10), 7).save(tmp_path / "imgs" / "Bag" / "0.png")
    data = load_data(f"folder:{tmp_path / 'imgs'}", size=None, class_names=("Sneaker", "Bag"))
    assert data.images.shape == (1, 1, 10, 10) and data.labels.tolist() == [1]
    with pytest.raises(GenlensError, match="not a readable .npz file"):
        load_data(f"npz:{tmp_path / 'nope.npz'}")
