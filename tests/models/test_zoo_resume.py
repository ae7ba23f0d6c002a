"""zoo train checkpoints and resumes through the shared loop: killed with SIGKILL mid-run, then resumed,
it ends bit-identical to an uninterrupted run; a finished run is left alone."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from genlens.data.base import ImageData
from genlens.models.zoo.specs import get_spec
from genlens.models.zoo.train import train_zoo_model
from genlens.training import read_checkpoint_state
from genlens.training.loop import RunFinished

CFG = replace(get_spec("fmnist-cnn").train, batch_size=8, epochs=2, warmup_epochs=0.5)


def _data() -> ImageData:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (32, 1, 28, 28), generator=g, dtype=torch.uint8)
    return ImageData(images=images, labels=torch.randint(0, 10, (32,), generator=g),
                     class_names=get_spec("fmnist-cnn").class_names)


def _train(run_dir=None, **kw):
    return train_zoo_model("fmnist-cnn", _data(), device=torch.device("cpu"), config=CFG, run_dir=run_dir, **kw)


KILLED_AT_5 = """
import importlib.util, os, signal, torch
torch.set_num_threads(1)
spec = importlib.util.spec_from_file_location("zoo_resume", {here!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
_train = module._train
def die(record):
    if record.get("step") == 5:
        os.kill(os.getpid(), signal.SIGKILL)
_train({run!r}, checkpoint_every=2, callback=die)
"""


@pytest.fixture(scope="module")
def reference():
    torch.set_num_threads(1)
    return _train()


def test_kill_9_then_resume_is_bit_identical(reference, tmp_path):
    proc = subprocess.run([sys.executable, "-c", KILLED_AT_5.format(here=__file__, run=str(tmp_path))],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert read_checkpoint_state(tmp_path)["step"] == 4  # the last periodic checkpoint before the kill
    resumed = _train(tmp_path, resume=True, checkpoint_every=2)
    for key, value in reference.handle.model.state_dict().items():
        torch.testing.assert_close(resumed.handle.model.state_dict()[key], value, rtol=0, atol=0, msg=key)
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in reference.history]
    assert len(resumed.history) == CFG.epochs


def test_a_finished_run_is_left_alone(tmp_path):
    _train(tmp_path)
    with pytest.raises(RunFinished, match="already finished"):
        _train(tmp_path, resume=True)
