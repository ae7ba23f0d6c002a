"""Bad inputs: exit code 2, nothing on stdout, and exactly one line on stderr that says what to do."""
from __future__ import annotations

import numpy as np
import pytest
import torch

# (arguments, fixtures the arguments need, words the error line must contain)
CASES = {
    "unknown-model-eval": (["zoo", "eval", "fmnist-nope", "--out", "{tmp}"], "unknown zoo model 'fmnist-nope'"),
    "unknown-model-train": (["zoo", "train", "fmnist-nope", "--out", "{tmp}"], "choose one of: fmnist-cnn"),
    "missing-data-eval": (["zoo", "eval", "fmnist-cnn", "--data-dir", "{no_fmnist}", "--out", "{tmp}"],
                          "is empty; pass the folder that holds the files"),
    "missing-data-train": (["zoo", "train", "fmnist-cnn", "--data-dir", "{no_fmnist}", "--out", "{tmp}",
                            "--device", "cpu"], "is empty; pass the folder that holds the files"),
    "missing-data-info": (["data", "info", "--data-dir", "{no_fmnist}"], "is empty; pass the folder that holds the files"),
    "corrupt-data": (["zoo", "eval", "fmnist-cnn", "--data-dir", "{corrupt_fmnist}", "--out", "{tmp}"],
                     "t10k-labels-idx1-ubyte.gz' is truncated or corrupt"),
    "sha256-mismatch": (["zoo", "eval", "{tampered_model}", "--out", "{tmp}"], "sha256"),
    "wrong-architecture": (["zoo", "eval", "fmnist-vit", "--weights", "{cnn_weights}", "--out", "{tmp}"],
                           "does not fit architecture 'fmnist-vit'"),
    "unreadable-weights": (["zoo", "eval", "fmnist-cnn", "--weights", "{pickled_npz}", "--out", "{tmp}"],
                           "not a readable safetensors file"),
    "no-cuda": (["zoo", "eval", "fmnist-cnn", "--device", "cuda", "--out", "{tmp}"], "no CUDA GPU"),
    "unknown-dataset": (["data", "info", "mnist"], "unknown data set 'mnist'"),
    "train-on-one-split": (["zoo", "train", "fmnist-cnn", "--data", "fashion-mnist:test", "--out", "{tmp}"],
                           "zoo train needs a registered data set with train and test splits"),
    "bad-npz": (["data", "info", "{tmp}/images.npz"], "not a readable .npz file"),
    "pickled-npz": (["data", "show", "{pickled_npz}", "--out", "{tmp}/g.png"], "not a readable .npz file"),
}


@pytest.fixture
def pickled_npz(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, images=np.array([None, {"x": 1}], dtype=object))
    return path


@pytest.fixture
def cnn_weights(shipped_dir):
    return shipped_dir("fmnist-cnn") / "model.safetensors"


@pytest.mark.parametrize(("args", "words"), list(CASES.values()), ids=list(CASES))
def test_bad_input(cli, request, tmp_path, monkeypatch, args, words):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    def fill(arg: str) -> str:
        if arg.startswith("{") and "}" in arg:
            key, rest = arg[1:].split("}", 1)
            value = tmp_path if key == "tmp" else request.getfixturevalue(key)
            value = value["data_dir"] if isinstance(value, dict) else value
            return f"{value}{rest}"
        return arg

    code, out, err = cli([fill(a) for a in args])
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("genlens: error: "), err
    assert words in err
