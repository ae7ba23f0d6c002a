"""Fashion-MNIST: search order, the real test split, and corrupt files reported by name."""
from __future__ import annotations

import pytest

import genlens.data.fashion_mnist as fm
from genlens.data.fashion_mnist import CLASS_NAMES, find_fashion_mnist, load_fashion_mnist
from genlens.data.idx import CorruptFileError
from genlens.errors import GenlensError


def test_data_dir_argument_beats_env_and_system(no_fmnist, tiny_fmnist, monkeypatch):
    arg = tiny_fmnist(folder=no_fmnist["data_dir"])
    env = tiny_fmnist(folder=no_fmnist["cache"].parent / "env")
    tiny_fmnist(folder=no_fmnist["system"])
    tiny_fmnist(folder=no_fmnist["cache"])
    monkeypatch.setenv("GENLENS_DATA", str(env))
    assert find_fashion_mnist(arg) == arg


def test_env_beats_system_and_cache(no_fmnist, tiny_fmnist, monkeypatch):
    env = tiny_fmnist(folder=no_fmnist["cache"].parent / "env")
    tiny_fmnist(folder=no_fmnist["system"])
    tiny_fmnist(folder=no_fmnist["cache"])
    monkeypatch.setenv("GENLENS_DATA", str(env))
    assert find_fashion_mnist() == env


def test_system_beats_cache(no_fmnist, tiny_fmnist):
    system = tiny_fmnist(folder=no_fmnist["system"])
    tiny_fmnist(folder=no_fmnist["cache"])
    assert find_fashion_mnist() == system


def test_cache_is_the_last_resort(no_fmnist, tiny_fmnist):
    cache = tiny_fmnist(folder=no_fmnist["cache"])
    assert find_fashion_mnist() == cache


def test_explicit_folder_may_hold_a_fashion_mnist_subfolder(no_fmnist, tiny_fmnist):
    sub = tiny_fmnist(folder=no_fmnist["data_dir"] / "fashion-mnist")
    assert find_fashion_mnist(no_fmnist["data_dir"]) == sub


def test_a_named_folder_never_falls_back(no_fmnist, tiny_fmnist, monkeypatch):
    """A wrong --data-dir or $GENLENS_DATA is an error naming it, even when the system copy exists."""
    partial = tiny_fmnist(folder=no_fmnist["data_dir"])
    (partial / "train-labels-idx1-ubyte.gz").unlink()
    tiny_fmnist(folder=no_fmnist["system"])
    with pytest.raises(GenlensError, match="--data-dir .* lacks some of the four"):
        find_fashion_mnist(partial)
    with pytest.raises(GenlensError, match="does not exist"):
        find_fashion_mnist(no_fmnist["data_dir"] / "nope")
    with pytest.raises(GenlensError, match="--data-dir is empty"):
        find_fashion_mnist("")
    monkeypatch.setenv("GENLENS_DATA", str(no_fmnist["cache"]))
    with pytest.raises(GenlensError, match=r"\$GENLENS_DATA .* is empty"):
        find_fashion_mnist()
    monkeypatch.setenv("GENLENS_DATA", "")
    with pytest.raises(GenlensError, match="set but empty"):
        find_fashion_mnist()


def test_nothing_found_names_all_three_places(no_fmnist):
    with pytest.raises(GenlensError) as err:
        load_fashion_mnist("test")
    msg = str(err.value)
    assert "\n" not in msg
    assert "--data-dir" in msg
    assert str(no_fmnist["system"]) in msg
    assert str(no_fmnist["cache"]) in msg
    assert "apt-get install dataset-fashion-mnist" in msg


def test_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert fm.cache_dir() == tmp_path / "genlens" / "fashion-mnist"


def test_tiny_folder_loads(no_fmnist, tiny_fmnist):
    data = load_fashion_mnist("train", data_dir=tiny_fmnist(n_train=12))
    assert data.images.shape == (12, 1, 28, 28)
    assert data.labels.tolist() == [i % 10 for i in range(12)]


def test_unknown_split(no_fmnist):
    with pytest.raises(GenlensError, match="unknown split 'val'"):
        load_fashion_mnist("val")


def test_label_count_mismatch_is_reported(no_fmnist, tiny_fmnist, idx_encode):
    import gzip

    import numpy as np

    folder = tiny_fmnist(n_test=8)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_encode(np.zeros(7, np.uint8))))
    with pytest.raises(CorruptFileError, match="t10k-labels-idx1-ubyte.gz' holds 7 labels for 8 images"):
        load_fashion_mnist("test", data_dir=folder)


def test_labels_out_of_range_are_reported(no_fmnist, tiny_fmnist, idx_encode):
    import gzip

    import numpy as np

    folder = tiny_fmnist(n_test=8)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_encode(np.full(8, 10, np.uint8))))
    with pytest.raises(CorruptFileError, match="outside 0..9"):
        load_fashion_mnist("test", data_dir=folder)


def test_real_test_split(fmnist_test):
    assert len(fmnist_test) == 10000
    assert fmnist_test.images.shape == (10000, 1, 28, 28)
    assert fmnist_test.images.dtype.is_floating_point is False
    assert fmnist_test.class_names == CLASS_NAMES
    assert fmnist_test.num_classes == 10
    assert fmnist_test.labels.bincount().tolist() == [1000] * 10  # balanced test set
    assert fmnist_test.name == "fashion-mnist/test"
    x = fmnist_test.float_images(slice(0, 100))
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert abs(float(fmnist_test.float_images().mean()) - 0.286) < 0.01  # the statistics the zoo uses


def test_corrupt_copy_is_reported_by_name(corrupt_fmnist):
    with pytest.raises(CorruptFileError) as err:
        load_fashion_mnist("test", data_dir=corrupt_fmnist)
    msg = str(err.value)
    assert "\n" not in msg
    assert str(corrupt_fmnist / "t10k-labels-idx1-ubyte.gz") in msg
