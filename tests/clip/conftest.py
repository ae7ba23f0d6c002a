"""A tiny randomly initialised open_clip model saved to a local file, and one torch thread per test
(on 2 shared cores, 2 threads contend and run small convolutions several times slower)."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

TINY_OPEN_CLIP = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_open_clip(tmp_path_factory) -> dict[str, Path]:
    """{"config": .json, "pt": torch.save'd state dict, "safetensors": the same weights, "model": the module}."""
    open_clip = pytest.importorskip("open_clip")
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("tiny-open-clip")
    torch.manual_seed(0)
    model = open_clip.model.CLIP(**TINY_OPEN_CLIP).eval()
    (folder / "tiny.json").write_text(json.dumps(TINY_OPEN_CLIP))
    torch.save(model.state_dict(), folder / "tiny.pt")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "tiny.safetensors"))
    return {"config": folder / "tiny.json", "pt": folder / "tiny.pt", "safetensors": folder / "tiny.safetensors",
            "model": model}
