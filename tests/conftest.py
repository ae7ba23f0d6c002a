"""Fixtures shared across the test tree: the real Fashion-MNIST test split, shipped weights, broken copies
of both, a world where no data can be found, and an in-process CLI runner."""
from __future__ import annotations

import gzip
import importlib.util
import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from genlens.errors import GenlensError


@pytest.fixture(scope="session")
def fmnist_dir() -> Path:
    """The folder holding the real Fashion-MNIST files (Debian package, $GENLENS_DATA or the cache)."""
    from genlens.data.fashion_mnist import find_fashion_mnist

    try:
        return find_fashion_mnist()
    except GenlensError as exc:  # `make test` runs `make data` first; elsewhere say why we skip
        pytest.skip(f"Fashion-MNIST is not installed: {exc}")


@pytest.fixture(scope="session")
def fmnist_test(fmnist_dir: Path):
    """The real 10000-image test split, loaded once per session."""
    from genlens.data.fashion_mnist import load_fashion_mnist

    return load_fashion_mnist("test", data_dir=fmnist_dir)


@pytest.fixture
def no_fmnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Every place Fashion-MNIST is searched for is an empty folder; returns the three places."""
    import genlens.data.fashion_mnist as fm

    places = {k: tmp_path / k for k in ("data_dir", "system", "cache")}
    for p in places.values():
        p.mkdir()
    monkeypatch.delenv("GENLENS_DATA", raising=False)
    monkeypatch.setattr(fm, "SYSTEM_DIR", places["system"])
    monkeypatch.setattr(fm, "cache_dir", lambda: places["cache"])
    return places


@pytest.fixture
def corrupt_fmnist(fmnist_dir: Path, tmp_path: Path) -> Path:
    """A data folder whose t10k-labels file is a truncated gzip; the other three files link to the real ones."""
    from genlens.data.fashion_mnist import FILES

    folder = tmp_path / "corrupt-fmnist"
    folder.mkdir()
    for name in (n for pair in FILES.values() for n in pair):
        if name.startswith("t10k-labels"):
            blob = (fmnist_dir / name).read_bytes()
            (folder / name).write_bytes(blob[: len(blob) // 2])
        else:
            (folder / name).symlink_to((fmnist_dir / name).resolve())
    return folder


@pytest.fixture
def tiny_fmnist(tmp_path: Path) -> Callable[..., Path]:
    """Write a small, valid Fashion-MNIST-shaped folder (all four IDX .gz files); returns a factory."""
    import numpy as np

    from genlens.data.fashion_mnist import FILES

    def make(n_train: int = 16, n_test: int = 8, *, folder: Path | None = None) -> Path:
        folder = folder or tmp_path / "tiny-fmnist"
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(0)
        for split, n in (("train", n_train), ("test", n_test)):
            img_name, lbl_name = FILES[split]
            images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
            labels = (np.arange(n) % 10).astype(np.uint8)
            (folder / img_name).write_bytes(gzip.compress(_idx_bytes(images)))
            (folder / lbl_name).write_bytes(gzip.compress(_idx_bytes(labels)))
        return folder

    return make


@pytest.fixture(scope="session")
def idx_encode() -> Callable[..., bytes]:
    """``idx_encode(uint8 array) -> bytes`` in the IDX format."""
    return _idx_bytes


def _idx_bytes(arr) -> bytes:
    """Encode a uint8 array in the IDX format: 0, 0, 0x08, ndim, big-endian sizes, data."""
    import struct

    header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.tobytes()


@pytest.fixture(scope="session")
def shipped_dir() -> Callable[[str], Path]:
    from genlens.models.load import shipped_folder

    return shipped_folder


@pytest.fixture
def tampered_model(tmp_path: Path, shipped_dir: Callable[[str], Path]) -> Path:
    """A copy of the shipped fmnist-cnn folder with one byte of model.safetensors flipped."""
    folder = tmp_path / "tampered-cnn"
    shutil.copytree(shipped_dir("fmnist-cnn"), folder)
    weights = folder / "model.safetensors"
    blob = bytearray(weights.read_bytes())
    blob[-1] ^= 0xFF  # inside the tensor data: the file still parses, only the hash can tell
    weights.write_bytes(bytes(blob))
    return folder


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[[list[str]], tuple[int, str, str]]:
    """Run ``genlens ARGS`` in this process; returns (exit code, stdout, stderr)."""
    from genlens.cli.main import main

    def run(args: list[str]) -> tuple[int, str, str]:
        capsys.readouterr()  # drop anything printed before
        with pytest.raises(SystemExit) as exit_info:
            main([str(a) for a in args])
        code = exit_info.value.code
        out, err = capsys.readouterr()
        return (0 if code is None else int(code)), out, err

    return run


REPO = Path(__file__).resolve().parents[1]


def load_script(path: str) -> ModuleType:
    """``load_script("bench/gan")``: REPO/bench/gan.py as a fresh module (the scripts are no package)."""
    spec = importlib.util.spec_from_file_location(path.replace("/", "_"), REPO / f"{path}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def script() -> Callable[[str], ModuleType]:
    """``script("bench/NAME")`` or ``script("experiments/NAME")``: the script as a fresh module."""
    return load_script


@pytest.fixture(scope="session")
def bench_script() -> Callable[[str], ModuleType]:
    """``bench_script(NAME)``: bench/NAME.py as a fresh module (``script("bench/NAME")``)."""
    return lambda name: load_script(f"bench/{name}")


@pytest.fixture(scope="session")
def png_folder(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``make(classes=2, per_class=8, size=64)``: a folder of colour PNGs, ``ROOT/<class>/<i>.png`` (one class:
    a flat ``ROOT/<i>.png``), each class a differently coloured square on a varying background."""
    import numpy as np
    from PIL import Image

    def make(classes: int = 2, per_class: int = 8, size: int = 64) -> Path:
        root = tmp_path_factory.mktemp(f"png{classes}x{per_class}")
        rng = np.random.default_rng(classes)
        for c in range(classes):
            folder = root / f"class_{c}" if classes > 1 else root
            folder.mkdir(exist_ok=True)
            for i in range(per_class):
                img = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
                lo = int(rng.integers(4, size // 3))
                img[lo:lo + size // 2, lo:lo + size // 2, c % 3] = 230
                Image.fromarray(img).save(folder / f"{i}.png")
        return root

    return make
