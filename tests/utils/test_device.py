"""--device resolution."""
from __future__ import annotations

import pytest
import torch

from genlens.errors import GenlensError
from genlens.utils.device import resolve_device


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.mark.parametrize("spec", ["cuda", "cuda:1", "CUDA"])
def test_cuda_without_gpu_is_one_line(no_cuda, spec):
    with pytest.raises(GenlensError) as err:
        resolve_device(spec)
    assert "no CUDA GPU" in str(err.value) and "--device cpu" in str(err.value)


@pytest.mark.parametrize("spec", ["auto", None, "", "cpu", "CPU"])
def test_cpu_and_auto_without_gpu(no_cuda, spec):
    assert resolve_device(spec) == torch.device("cpu")


def test_device_objects_pass_through():
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


def test_unknown_device():
    with pytest.raises(GenlensError, match="unknown device 'tpu'"):
        resolve_device("tpu")


def test_cuda_under_a_launcher_is_this_process_gpu(monkeypatch):
    import torch

    import genlens.utils.device as D

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert D.resolve_device("auto") == torch.device("cuda:3") == D.resolve_device("cuda")
    assert D.resolve_device("cuda:1") == torch.device("cuda:1")  # an explicit index wins
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert D.resolve_device("cuda") == torch.device("cuda")
