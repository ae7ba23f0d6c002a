"""IDX reader: good files round-trip; every kind of damage is one CorruptFileError line naming the file."""
from __future__ import annotations

import gzip

import numpy as np
import pytest

from genlens.data.idx import CorruptFileError, read_idx
from genlens.errors import GenlensError


@pytest.fixture
def images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)


@pytest.mark.parametrize("compress", [True, False], ids=["gz", "raw"])
@pytest.mark.parametrize("shape", [(7,), (5, 28, 28), (2, 3, 4, 5)])
def test_round_trip(tmp_path, idx_encode, compress, shape):
    arr = np.arange(int(np.prod(shape)), dtype=np.uint8).reshape(shape)
    blob = idx_encode(arr)
    path = tmp_path / ("x-idx.gz" if compress else "x-idx")
    path.write_bytes(gzip.compress(blob) if compress else blob)
    got = read_idx(path)
    assert got.dtype == np.uint8
    assert got.shape == shape
    np.testing.assert_array_equal(got, arr)


def _truncated_gzip(blob: bytes) -> bytes:
    gz = gzip.compress(blob)
    return gz[: len(gz) // 2]


def _bad_crc(blob: bytes) -> bytes:
    gz = bytearray(gzip.compress(blob))
    gz[-5] ^= 0xFF  # the CRC32 trailer
    return bytes(gz)


def _wrong_magic(blob: bytes) -> bytes:
    return gzip.compress(b"\x00\x00\x0d" + blob[3:])  # type code 0x0d = float, not uint8


def _not_gzip(blob: bytes) -> bytes:
    return blob  # plain IDX bytes in a .gz file


def _too_short(blob: bytes) -> bytes:
    return gzip.compress(blob[:-10])


def _too_long(blob: bytes) -> bytes:
    return gzip.compress(blob + b"\x00")


def _header_cut(blob: bytes) -> bytes:
    return gzip.compress(blob[:9])  # says 3 dims but holds 1.25 sizes


def _empty(blob: bytes) -> bytes:
    return gzip.compress(b"")


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (_truncated_gzip, "truncated or corrupt"),
        (_bad_crc, "truncated or corrupt"),
        (_not_gzip, "truncated or corrupt"),
        (_wrong_magic, "magic"),
        (_empty, "magic"),
        (_too_short, "header promises"),
        (_too_long, "header promises"),
        (_header_cut, "header cut short"),
    ],
)
def test_damage_is_one_line_naming_the_file(tmp_path, idx_encode, images, damage, words):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(damage(idx_encode(images)))
    with pytest.raises(CorruptFileError) as err:
        read_idx(path)
    msg = str(err.value)
    assert "\n" not in msg
    assert str(path) in msg
    assert words in msg
    assert isinstance(err.value, GenlensError)


def test_missing_file_is_a_clean_error(tmp_path):
    path = tmp_path / "nope-idx1-ubyte.gz"
    with pytest.raises(CorruptFileError, match="nope-idx1-ubyte.gz"):
        read_idx(path)
