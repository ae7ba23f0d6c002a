"""``.npz`` image sets: layouts, dtypes, and files that must never be unpickled."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from genlens.data import load_dataset
from genlens.data.npz import load_npz
from genlens.errors import GenlensError


def test_uint8_with_labels_and_names(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    path = tmp_path / "set.npz"
    np.savez(path, images=images, labels=np.arange(6) % 3, class_names=np.array(["a", "b", "c"]))
    data = load_npz(path)
    assert data.images.shape == (6, 1, 28, 28)
    assert torch.equal(data.images[:, 0], torch.from_numpy(images))
    assert data.labels.tolist() == [0, 1, 2, 0, 1, 2]
    assert data.class_names == ("a", "b", "c")
    assert data.name == "npz/set"


@pytest.mark.parametrize("shape", [(3, 3, 8, 8), (3, 8, 8, 3), (3, 1, 8, 8), (3, 8, 8, 1)])
def test_float_layouts(tmp_path, shape):
    path = tmp_path / "f.npz"
    np.savez(path, images=np.full(shape, 0.5, dtype=np.float32))
    data = load_dataset(path)
    channels = 3 if 3 in (shape[1], shape[-1]) else 1
    assert data.images.shape == (3, channels, 8, 8)
    assert data.images.dtype == torch.uint8
    assert int(data.images[0, 0, 0, 0]) == 128
    assert data.class_names == ("0",)


def test_object_array_is_refused_cleanly(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, images=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(GenlensError) as err:
        load_npz(path)
    assert "\n" not in str(err.value)
    assert str(path) in str(err.value)


def test_pickled_labels_are_refused_too(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, images=np.zeros((2, 4, 4), np.uint8), labels=np.array([object(), object()], dtype=object))
    with pytest.raises(GenlensError, match="not a readable .npz"):
        load_npz(path)


@pytest.mark.parametrize(
    ("write", "words"),
    [
        (lambda p: np.savez(p, pictures=np.zeros((2, 4, 4))), "no 'images' array"),
        (lambda p: p.write_text("hello"), "not a readable .npz"),
        (lambda p: None, "not a readable .npz"),
        (lambda p: np.savez(p, images=np.zeros((2, 2, 2, 2, 2))), "expected (N,H,W)"),
    ],
    ids=["no-images", "text", "missing", "5d"],
)
def test_bad_files(tmp_path, write, words):
    path = tmp_path / "bad.npz"
    write(path)
    with pytest.raises(GenlensError) as err:
        load_npz(path)
    assert "\n" not in str(err.value)
    assert words in str(err.value)


def test_options_resize_crop_and_convert_npz(tmp_path):
    from genlens.data.options import DataOptions, load_with_options

    strip = np.zeros((3, 32, 96, 3), dtype=np.uint8)  # (N, H, W, C): black sides, white middle third
    strip[:, :, 32:64] = 255
    path = tmp_path / "strips.npz"
    np.savez(path, images=strip, labels=np.array([0, 1, 1]))
    data = load_with_options(DataOptions(spec=f"npz:{path}", resolution=16, channels=1))
    assert data.images.shape == (3, 1, 16, 16) and data.labelled
    assert int(data.images[:, :, 1:-1, 1:-1].min()) >= 250  # centre crop, not a squash
    assert any("resized 3 image(s) from 96x32 to 16x16" in n for n in data.notes)
    colour = load_with_options(DataOptions(spec=f"npz:{path}", channels=3), limit=2)
    assert colour.images.shape == (2, 3, 32, 96) and colour.notes == ()


def test_npz_without_labels_is_unlabelled(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, images=np.zeros((2, 8, 8), dtype=np.uint8))
    data = load_npz(path)
    assert not data.labelled and any("unconditional" in n for n in data.notes)
    grey = np.zeros((2, 1, 8, 8), dtype=np.uint8)
    from genlens.data.options import DataOptions, apply_options

    wide = apply_options(load_npz(path), DataOptions(spec=f"npz:{path}", channels=3))
    assert wide.images.shape == (2, 3, 8, 8) and torch.equal(wide.images[:, :1], torch.from_numpy(grey))
