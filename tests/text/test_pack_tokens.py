"""Padding variable-length token embeddings, with and without the pooled (mean) token in slot 0."""
import pytest
import torch

from genlens.errors import GenlensError
from genlens.text.encoder import pack_tokens


def test_plain_layout_pads_and_truncates():
    seqs = [torch.full((2, 3), 1.0), torch.arange(15.0).view(5, 3)]
    emb, mask = pack_tokens(seqs, max_tokens=4, dim=3)
    assert emb.shape == (2, 4, 3) and mask.tolist() == [[True, True, False, False], [True] * 4]
    assert torch.equal(emb[1], seqs[1][:4]) and torch.all(emb[0, 2:] == 0)


def test_pooled_layout_puts_the_mean_of_all_tokens_first():
    seqs = [torch.arange(15.0).view(5, 3)]
    emb, mask = pack_tokens(seqs, max_tokens=3, dim=3, pooled=True)
    torch.testing.assert_close(emb[0, 0], torch.tensor([6.0, 7.0, 8.0]))  # mean over all 5, not the kept 2
    assert torch.equal(emb[0, 1:], seqs[0][:2]) and mask.all()
    with pytest.raises(GenlensError, match="max_tokens >= 2"):
        pack_tokens(seqs, max_tokens=1, dim=3, pooled=True)
