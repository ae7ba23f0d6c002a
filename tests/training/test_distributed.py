"""Two gloo processes on CPU with a global batch of 8 equal one process with a batch of 8."""
import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed
from safetensors.torch import load_file

WORKER = Path(__file__).with_name("dist_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _load_worker():
    spec = importlib.util.spec_from_file_location("genlens_dist_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_gloo_available(), reason="needs the gloo backend")
def test_two_processes_match_one(tmp_path):
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_ip", "127.0.0.1", "--main_process_port", str(_free_port()),
           str(WORKER), str(tmp_path)]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    two = load_file(tmp_path / "weights.safetensors")
    assert int(two["world"]) == 2

    model, ema, history = _load_worker().run(tmp_path / "single", stop_at=None)  # 1 process, same batch
    torch.testing.assert_close(two["losses"], torch.tensor([r["loss"] for r in history], dtype=torch.float64),
                               rtol=0, atol=1e-6)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(two[f"model.{key}"], value, rtol=0, atol=1e-6)
    for key, value in ema.ema_model.state_dict().items():
        torch.testing.assert_close(two[f"ema.{key}"], value, rtol=0, atol=1e-6)
