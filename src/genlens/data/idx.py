"""Reader for the IDX format (LeCun's MNIST files), with every check that keeps garbage out.

Layout: 2 zero bytes, a type code (0x08 = uint8), the number of dimensions, then that many big-endian
uint32 sizes, then the data. We check the magic, the sizes against the byte count, and the gzip CRC.
"""
from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from genlens.errors import GenlensError


class CorruptFileError(GenlensError):
    pass


def read_idx(path: str | Path) -> np.ndarray:
    path = Path(path)
    try:
        raw = path.read_bytes()
        data = gzip.decompress(raw) if path.suffix == ".gz" else raw
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise CorruptFileError(
            f"'{path}' is truncated or corrupt ({type(exc).__name__}: {exc}); delete it and reinstall or re-download"
        ) from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08 or not 1 <= data[3] <= 4:
        raise CorruptFileError(f"'{path}' is not an IDX uint8 file (bad magic number); delete it and re-download")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise CorruptFileError(f"'{path}' is truncated (header cut short); delete it and re-download")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        raise CorruptFileError(
            f"'{path}' has {len(data)} bytes but its header promises {expected}; delete it and re-download"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)
