"""Fashion-MNIST (Xiao, Rasul & Vollgraf 2017) from IDX files, offline first.

Search order (issue 2): ``data_dir`` argument / ``$GENLENS_DATA`` (when one is given, only there: a wrong
folder is an error, never a silent fallback), else Debian's ``dataset-fashion-mnist``
(``/usr/share/datasets/fashion-mnist``), then ``~/.cache/genlens/fashion-mnist``. Only an explicit
:func:`download_fashion_mnist` touches the network; it verifies the decompressed content by sha256.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import urllib.request
from pathlib import Path

import torch

from genlens.data.base import ImageData
from genlens.data.idx import CorruptFileError, read_idx
from genlens.errors import GenlensError
from genlens.utils.io import atomic_write_bytes

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
# sha256 of the *decompressed* IDX content (gzip bytes differ between mirrors; the content does not).
CONTENT_SHA256 = {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
EXPECTED_COUNT = {"train": 60000, "test": 10000}
OFFICIAL_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "genlens" / "fashion-mnist"


def _explicit_dir(data_dir: str | os.PathLike | None) -> tuple[Path, str] | None:
    """The folder the user named (``data_dir`` first, then ``$GENLENS_DATA``) and how it was named."""
    if data_dir is not None:
        if not str(data_dir).strip():
            raise GenlensError("--data-dir is empty; pass the folder that holds the Fashion-MNIST files or leave it out")
        return Path(data_dir), "--data-dir"
    env = os.environ.get("GENLENS_DATA")
    if env is not None:
        if not env.strip():
            raise GenlensError("$GENLENS_DATA is set but empty; point it to the Fashion-MNIST folder or unset it")
        return Path(env), "$GENLENS_DATA"
    return None


def candidate_dirs(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Where Fashion-MNIST is looked for: only the named folder when one is named (no silent fallback to the
    system copy), otherwise Debian's folder then the cache."""
    explicit = _explicit_dir(data_dir)
    return [explicit[0]] if explicit else [SYSTEM_DIR, cache_dir()]


def find_fashion_mnist(data_dir: str | os.PathLike | None = None) -> Path:
    """The first folder holding all four files, or a one-line error naming where it looked."""
    names = [n for pair in FILES.values() for n in pair]
    for d in candidate_dirs(data_dir):
        # A folder given explicitly may hold the files directly or in a fashion-mnist/ subfolder.
        for cand in (d, d / "fashion-mnist"):
            if all((cand / n).is_file() for n in names):
                return cand
    explicit = _explicit_dir(data_dir)
    if explicit is not None:
        folder, how = explicit
        state = "does not exist" if not folder.exists() else "is empty" if folder.is_dir() and not any(
            folder.iterdir()) else "lacks some of the four IDX .gz files"
        raise GenlensError(f"Fashion-MNIST not found: {how} '{folder}' {state}; copy the four IDX .gz files there, "
                           f"or leave {how} out to use {SYSTEM_DIR} or {cache_dir()}")
    raise GenlensError(
        f"Fashion-MNIST not found in {SYSTEM_DIR} or {cache_dir()}; fill one: `apt-get install "
        "dataset-fashion-mnist`, or `genlens data download` (needs internet), or pass --data-dir"
    )


def load_fashion_mnist(split: str = "train", *, data_dir: str | os.PathLike | None = None) -> ImageData:
    if split not in FILES:
        raise GenlensError(f"unknown split '{split}'; use train or test")
    folder = find_fashion_mnist(data_dir)
    img_name, lbl_name = FILES[split]
    images = read_idx(folder / img_name)
    labels = read_idx(folder / lbl_name)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise CorruptFileError(f"'{folder / img_name}' does not hold 28x28 images; delete it and re-download")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise CorruptFileError(
            f"'{folder / lbl_name}' holds {labels.shape[0]} labels for {images.shape[0]} images; re-download both"
        )
    if labels.max(initial=0) >= len(CLASS_NAMES):
        raise CorruptFileError(f"'{folder / lbl_name}' has labels outside 0..9; delete it and re-download")
    x = torch.from_numpy(images.copy()).unsqueeze(1)  # (N, 1, 28, 28) uint8
    y = torch.from_numpy(labels.astype("int64"))
    return ImageData(x, y, CLASS_NAMES, name=f"fashion-mnist/{split}")


def download_fashion_mnist(dest: str | os.PathLike | None = None, *, base_url: str = OFFICIAL_URL) -> Path:
    """Download the four files from the official location, verify their content hash, write atomically."""
    dest = Path(dest) if dest else cache_dir()
    for name, want in CONTENT_SHA256.items():
        target = dest / name
        if target.is_file() and _content_sha256(target) == want:
            continue
        try:
            with urllib.request.urlopen(base_url + name, timeout=60) as resp:
                blob = resp.read()
        except OSError as exc:
            raise GenlensError(
                f"could not download {name} from {base_url} ({exc}); install dataset-fashion-mnist or copy the files"
            ) from None
        got = hashlib.sha256(gzip.decompress(blob)).hexdigest()
        if got != want:
            raise GenlensError(f"downloaded {name} has sha256 {got[:12]}..., expected {want[:12]}...; try again later")
        atomic_write_bytes(target, blob)
    return dest


def _content_sha256(path: Path) -> str:
    try:
        return hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()
    except (OSError, EOFError, gzip.BadGzipFile):
        return ""
