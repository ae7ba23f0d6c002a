"""One writer per run folder: a second process gets one line naming the holder; nothing stale is left."""
from __future__ import annotations

import subprocess
import sys

import pytest

from genlens.errors import GenlensError
from genlens.training.checkpoint import save_checkpoint
from genlens.training.lock import LOCK_FILE, check_unlocked, run_lock

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
    assert not (tmp_path / LOCK_FILE).exists()


def test_reentrant_in_one_process(tmp_path, tiny):
    with run_lock(tmp_path), run_lock(tmp_path):
        save_checkpoint(tmp_path, step=1, model=tiny.parts().model)
        assert (tmp_path / LOCK_FILE).read_text().startswith(str(__import__("os").getpid()))
    assert not (tmp_path / LOCK_FILE).exists()
