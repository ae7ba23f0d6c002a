"""Image folders: ImageFolder layout, flat folders, resizing, and bad files reported by name."""
from __future__ import annotations

import pytest
import torch
from PIL import Image

from genlens.data import load_dataset
from genlens.data.folder import load_image_folder
from genlens.errors import GenlensError


def _png(path, value: int, size: int = 28, mode: str = "L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, (size, size), value if mode == "L" else (value, value, value)).save(path)


def test_image_folder_layout(tmp_path):
    for cls, value in (("Sneaker", 10), ("Bag", 200)):
        for i in range(3):
            _png(tmp_path / cls / f"{i}.png", value + i)
    (tmp_path / "grid.png").write_bytes(b"root-level files are not class members")
    data = load_image_folder(tmp_path)
    assert data.class_names == ("Bag", "Sneaker")  # sorted folder names
    assert data.images.shape == (6, 1, 28, 28) and data.images.dtype == torch.uint8
    assert data.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert data.images[:, 0, 0, 0].tolist() == [200, 201, 202, 10, 11, 12]


def test_flat_folder_is_one_class(tmp_path):
    root = tmp_path / "samples"
    for i in range(4):
        _png(root / f"{i}.png", 50, size=32, mode="RGB")
    data = load_image_folder(root, channels=3, size=16)
    assert data.class_names == ("samples",)
    assert data.images.shape == (4, 3, 16, 16)
    assert data.labels.tolist() == [0] * 4


def test_folder_names_map_onto_known_classes(tmp_path):
    from genlens.data.fashion_mnist import CLASS_NAMES

    _png(tmp_path / "Ankle_boot" / "0.png", 1)
    _png(tmp_path / "T-shirt_top" / "0.png", 2)
    data = load_image_folder(tmp_path, class_names=CLASS_NAMES)
    assert data.class_names == CLASS_NAMES
    assert data.labels.tolist() == [9, 0]


def test_non_image_file_is_one_line_error(tmp_path):
    _png(tmp_path / "Bag" / "0.png", 1)
    bad = tmp_path / "Bag" / "1.png"
    bad.write_text("this is not an image\n")
    with pytest.raises(GenlensError) as err:
        load_image_folder(tmp_path)
    assert "\n" not in str(err.value)
    assert str(bad) in str(err.value)


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        (lambda root: None, "does not exist"),
        (lambda root: root.mkdir(), "no images found"),
        (lambda root: (_png(root / "a.png", 1, size=28), _png(root / "b.png", 1, size=30)), "different sizes"),
    ],
    ids=["missing", "empty", "mixed-sizes"],
)
def test_folder_errors(tmp_path, setup, words):
    root = tmp_path / "imgs"
    setup(root)
    with pytest.raises(GenlensError, match=words):
        load_image_folder(root, size=None)


def test_load_dataset_dispatches_to_folders(tmp_path):
    _png(tmp_path / "x" / "0.png", 3, size=40)
    data = load_dataset(tmp_path)
    assert data.images.shape == (1, 1, 28, 28)  # resized to the default 28 px
