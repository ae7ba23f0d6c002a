"""The streaming loader: same batches as the in-memory path, for any worker count, given seed and epoch."""
from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from genlens.data.base import ImageData
from genlens.data.folder_captions import captions_for
from genlens.data.options import DataOptions
from genlens.data.stream import StreamedFolder, batches, batches_per_epoch, epoch_order, estimated_bytes, open_data
from genlens.errors import GenlensError


@pytest.fixture
def folder(tmp_path):
    g = torch.Generator().manual_seed(0)
    rows = []
    for cls in ("a", "b", "c"):
        (tmp_path / cls).mkdir()
        for i in range(7):
            px = torch.randint(0, 256, (20, 24, 3), generator=g, dtype=torch.uint8).numpy()
            Image.fromarray(px).save(tmp_path / cls / f"{i}.png")
            rows.append({"file": f"{cls}/{i}.png", "text": f"{cls} number {i}"})
    (tmp_path / "captions.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return tmp_path


def _all(data, **kw):
    return [tuple(t.clone() for t in b) for b in batches(data, **kw)]


def test_streamed_batches_equal_in_memory_batches(folder):
    options = DataOptions(spec=f"folder:{folder}", resolution=16, channels=3)
    memory = open_data(options)
    streamed = open_data(options, stream=True)
    assert isinstance(memory, ImageData) and isinstance(streamed, StreamedFolder)
    assert len(streamed) == len(memory) == 21 and streamed.image_shape == memory.image_shape == (3, 16, 16)
    assert streamed.labelled and streamed.class_names == ("a", "b", "c")
    a = _all(memory, batch=8, seed=3, epoch=1)
    b = _all(streamed, batch=8, seed=3, epoch=1, workers=2)
    assert len(a) == len(b) == batches_per_epoch(21, 8) == 3
    for (xa, ya, ia), (xb, yb, ib) in zip(a, b, strict=True):
        assert xa.dtype == xb.dtype == torch.uint8
        assert torch.equal(xa, xb) and torch.equal(ya, yb) and torch.equal(ia, ib)
    caps = captions_for(streamed)
    assert caps == captions_for(memory) and caps[int(a[0][2][0])].startswith(memory.class_names[int(a[0][1][0])])


def test_order_depends_on_seed_and_epoch_only(folder):
    streamed = open_data(DataOptions(spec=f"folder:{folder}", resolution=8, channels=1), stream=True)
    zero = _all(streamed, batch=5, seed=1, epoch=0, workers=0)
    two = _all(streamed, batch=5, seed=1, epoch=0, workers=2)
    assert all(torch.equal(x, y) for p, q in zip(zero, two, strict=True) for x, y in zip(p, q, strict=True))
    assert not torch.equal(epoch_order(21, seed=1, epoch=0), epoch_order(21, seed=1, epoch=1))
    assert not torch.equal(epoch_order(21, seed=1, epoch=0), epoch_order(21, seed=2, epoch=0))
    assert sorted(torch.cat([i for _, _, i in zero]).tolist()) == list(range(21))
    assert len(_all(streamed, batch=5, seed=1, drop_last=True, workers=0)) == 4


def test_size_decides_streaming(folder):
    options = DataOptions(spec=f"folder:{folder}", resolution=16, channels=3)
    assert estimated_bytes(options) == 21 * 3 * 16 * 16
    assert isinstance(open_data(options, max_bytes=21 * 3 * 16 * 16), ImageData)
    assert isinstance(open_data(options, max_bytes=1000), StreamedFolder)
    assert isinstance(open_data(options, max_bytes=1000, stream=False), ImageData)
    with pytest.raises(GenlensError, match="streaming needs --resolution N"):
        open_data(DataOptions(spec=f"folder:{folder}"), stream=True)  # 24x20: not square


def test_unreadable_streamed_file_is_replaced_by_the_next(folder):
    (folder / "a" / "3.png").write_bytes(b"broken")
    streamed = open_data(DataOptions(spec=f"folder:{folder}", resolution=8, channels=3), stream=True)
    image, used = streamed.dataset()[3]
    assert used == 4 and image.shape == (3, 8, 8)


def test_names_and_npz_stay_in_memory(tmp_path):
    import numpy as np

    path = tmp_path / "x.npz"
    np.savez(path, images=np.zeros((5, 8, 8), np.uint8), labels=np.arange(5) % 2)
    data = open_data(DataOptions(spec=f"npz:{path}"), stream=True)
    assert isinstance(data, ImageData) and "only folders stream" in data.notes[-1]
    (x, y, i), = _all(data, batch=8, shuffle=False)
    assert x.shape == (5, 1, 8, 8) and i.tolist() == [0, 1, 2, 3, 4] and y.tolist() == [0, 1, 0, 1, 0]


def test_in_memory_decoding_reports_progress(folder):
    seen = []
    open_data(DataOptions(spec=f"folder:{folder}", resolution=8, channels=1), callback=seen.append)
    assert seen[-1] == {"step": 21, "total": 21} and [s["step"] for s in seen] == sorted(s["step"] for s in seen)


def test_start_resumes_mid_epoch(folder):
    streamed = open_data(DataOptions(spec=f"folder:{folder}", resolution=8, channels=1), stream=True)
    whole = _all(streamed, batch=4, seed=5, epoch=2, workers=0)
    rest = _all(streamed, batch=4, seed=5, epoch=2, workers=0, start=3)
    assert len(rest) == len(whole) - 3 and all(torch.equal(a[0], b[0]) for a, b in zip(whole[3:], rest, strict=True))
