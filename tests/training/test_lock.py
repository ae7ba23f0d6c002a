"""One writer per run folder: a second process gets one line naming the holder; nothing stale is left."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from genlens.errors import GenlensError
from genlens.training.checkpoint import save_checkpoint
from genlens.training.lock import check_unlocked, holder_file, run_lock

HOLD = """
import sys, time
from genlens.training.lock import run_lock
with run_lock(sys.argv[1], command="genlens zoo train fmnist-cnn"):
    print("held", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def other_holder(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    yield proc
    proc.kill()
    proc.wait()


def test_a_second_writer_gets_one_line_naming_the_holder(tmp_path, other_holder, tiny):
    with pytest.raises(GenlensError, match=rf"in use by process {other_holder.pid} \(genlens zoo train"):
        with run_lock(tmp_path):
            pass
    with pytest.raises(GenlensError, match="in use by"):
        save_checkpoint(tmp_path, step=1, model=tiny.parts().model)


def test_a_killed_holder_leaves_no_lock(tmp_path, other_holder):
    other_holder.kill()
    other_holder.wait()
    with run_lock(tmp_path):
        check_unlocked(tmp_path)  # this process holds it: fine
    assert not holder_file(tmp_path).exists() and list(tmp_path.iterdir()) == []


def test_reentrant_in_one_process(tmp_path, tiny):
    with run_lock(tmp_path), run_lock(tmp_path):
        save_checkpoint(tmp_path, step=1, model=tiny.parts().model)
        assert holder_file(tmp_path).read_text().startswith(str(os.getpid()))
    assert not holder_file(tmp_path).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]  # nothing of the lock in the run folder


def test_a_trainer_with_its_own_loop_is_locked_from_its_first_checkpoint(tmp_path, tiny):
    save_checkpoint(tmp_path, step=1, model=tiny.parts().model)  # no run_lock around it
    probe = "import sys; from genlens.training.lock import run_lock\nwith run_lock(sys.argv[1]): pass"
    proc = subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode != 0 and f"in use by process {os.getpid()}" in proc.stderr


def test_other_ranks_of_a_launch_share_the_main_process_lock(tmp_path, other_holder, monkeypatch):
    """Under accelerate launch / torchrun only rank 0 locks: rank 1 of the same run must not stop at it."""
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(GenlensError, match="in use by"):  # RANK alone (no launcher's WORLD_SIZE): one process
        check_unlocked(tmp_path)
    monkeypatch.setenv("WORLD_SIZE", "2")
    with run_lock(tmp_path) as folder:
        assert folder == tmp_path
    check_unlocked(tmp_path)
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(GenlensError, match="in use by"):
        check_unlocked(tmp_path)
