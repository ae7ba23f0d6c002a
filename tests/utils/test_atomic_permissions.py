"""Files written atomically get the usual permissions (umask), even when the writer sets 0600 itself, as
safetensors' save_file does: weights in an installed package must be readable by every user."""
from __future__ import annotations

import os

import torch
from safetensors.torch import save_file

from genlens.utils.io import atomic_write


def test_weights_written_atomically_are_not_owner_only(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "m.safetensors", lambda p: save_file({"a": torch.zeros(2)}, str(p)))
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == 0o644
