"""ImageData and resolve_class."""
from __future__ import annotations

import pytest
import torch

from genlens.data.base import ImageData, resolve_class
from genlens.data.fashion_mnist import CLASS_NAMES
from genlens.errors import GenlensError


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (7, 7),
        ("7", 7),
        (" 3 ", 3),
        (0, 0),
        ("Sneaker", 7),
        ("sneaker", 7),
        ("ANKLE BOOT", 9),
        ("ankle_boot", 9),
        ("Ankle_boot", 9),
        ("t-shirt/top", 0),
        ("T-shirt_top", 0),
        ("tshirt", 0),  # unique partial match
        ("Shirt", 6),  # exact match wins over the partial match in T-shirt/top
        ("boot", 9),
    ],
)
def test_resolve_class(query, index):
    assert resolve_class(query, CLASS_NAMES) == index


@pytest.mark.parametrize(
    ("query", "words"),
    [
        (10, "class index 10 is out of range; this model has classes 0..9"),
        (-1, "class index -1 is out of range"),
        ("-1", "class index -1 is out of range"),
        ("42", "class index 42 is out of range"),
        ("--1", "unknown class '--1'"),
        ("giraffe", "unknown class 'giraffe'; choose one of: T-shirt/top, Trouser"),
        ("s", "unknown class 's'"),  # ambiguous partial match
        ("", "unknown class ''"),
    ],
)
def test_resolve_class_errors(query, words):
    with pytest.raises(GenlensError) as err:
        resolve_class(query, CLASS_NAMES)
    assert "\n" not in str(err.value)
    assert words in str(err.value)


def _data(n: int = 6) -> ImageData:
    return ImageData(torch.arange(n * 4, dtype=torch.uint8).view(n, 1, 2, 2), torch.arange(n) % 3, ("a", "b", "c"))


def test_image_data_helpers():
    d = _data()
    assert len(d) == 6 and d.num_classes == 3 and d.image_shape == (1, 2, 2)
    assert d.class_index("B") == 1
    assert len(d.take(4)) == 4 and len(d.take(100)) == 6
    assert d.subset(torch.tensor([5, 0])).labels.tolist() == [2, 0]
    f = d.float_images()
    assert f.dtype == torch.float32 and float(f.max()) == pytest.approx(23 / 255)
    assert d.images.dtype == torch.uint8  # float_images does not modify the stored images


@pytest.mark.parametrize(
    ("images", "labels"),
    [
        (torch.zeros(2, 1, 4, 4), torch.zeros(2, dtype=torch.long)),  # float images
        (torch.zeros(2, 4, 4, dtype=torch.uint8), torch.zeros(2, dtype=torch.long)),  # 3-D
        (torch.zeros(2, 1, 4, 4, dtype=torch.uint8), torch.zeros(3, dtype=torch.long)),  # label count
    ],
)
def test_image_data_validates(images, labels):
    with pytest.raises(ValueError):
        ImageData(images, labels, ("a",))


def test_per_class_sample_is_class_major_and_seeded():
    from genlens.data.sample import per_class_sample

    d = _data(12)
    a, b = per_class_sample(d, 2, seed=1), per_class_sample(d, 2, seed=1)
    assert a.shape == (6, 1, 2, 2) and torch.equal(a, b)
    labels = [int(d.labels[(d.float_images() == img).flatten(1).all(1)][0]) for img in a]
    assert labels == [0, 0, 1, 1, 2, 2]


def test_unknown_dataset_lists_names():
    from genlens.data import load_dataset

    with pytest.raises(GenlensError, match="unknown data set 'mnist'; choose one of: digits, fashion-mnist"):
        load_dataset("mnist")
