"""Caption rounds: round 1 is exactly what the shipped fmnist-ddpm-text was trained on; round 2 adds to it."""
import pytest

from genlens.data.captions import LATEST_ROUND, ROUNDS, all_captions, check_round, class_captions
from genlens.diffusion.text import caption_source
from genlens.errors import GenlensError

# Golden values of round 1, computed by running src/genlens/data/captions.py as of commit 0327577 (the commit
# that shipped fmnist-ddpm-text) in a scratch directory: its all_captions() gave 10,052 captions whose
# caption_source hash is e3e10b07915f54ee. Round 2 (commit c69baba) gives 11,472.
ROUND1_COUNT, ROUND1_HASH, ROUND2_COUNT = 10_052, "minilm/e3e10b07915f54ee", 11_472


def test_round_1_reproduces_the_shipped_text_models_captions():
    texts, labels = all_captions(1)
    assert len(texts) == ROUND1_COUNT and caption_source("minilm", texts, labels) == ROUND1_HASH


def test_round_2_is_round_1_plus_the_later_captions():
    one, two = set(all_captions(1)[0]), all_captions(2)[0]
    assert len(two) == ROUND2_COUNT and one < set(two)
    assert all_captions() == all_captions(LATEST_ROUND) and LATEST_ROUND == ROUNDS[-1] == 2
    added = set(two) - one
    assert any(t.startswith("something ") for t in added) and not any(t.startswith("something ") for t in one)
    for label in range(10):  # rounds nest class by class, so no caption changes class between rounds
        assert set(class_captions(label, 1)) <= set(class_captions(label, 2))


@pytest.mark.parametrize("bad", [0, 3, "1", True, None])
def test_unknown_round_is_one_line_naming_the_rounds(bad):
    with pytest.raises(GenlensError, match="caption round .* is unknown; use one of 1, 2"):
        check_round(bad)
