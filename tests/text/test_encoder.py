"""The frozen sentence encoder: offline, normalised, cached, semantic; prompt limits are one line."""
from __future__ import annotations

import pytest
import torch

from genlens.data.captions import all_captions, class_captions, held_out_prompts
from genlens.errors import GenlensError
from genlens.text import check_prompt, encode_cached, load_text_encoder


@pytest.fixture(scope="module")
def enc():
    return load_text_encoder("minilm")


def test_embeddings_are_unit_norm_and_cached(enc):
    e = enc.encode(["a leather ankle boot", "a pair of jeans"])
    assert e.shape == (2, 384)
    assert torch.allclose(e.norm(dim=1), torch.ones(2), atol=1e-4)
    assert torch.equal(enc.encode(["a leather ankle boot"])[0], e[0])


def test_semantics_boot_is_closer_to_boot_than_to_bag(enc):
    e = enc.encode(["a leather ankle boot", "a winter boot", "a tote bag"])
    assert e[0] @ e[1] > e[0] @ e[2]


def test_token_embeddings_and_mask(enc):
    emb, mask = enc.encode_tokens(["a boot", "a long striped cotton summer dress"], max_tokens=16)
    assert emb.shape == (2, 16, 384) and mask.shape == (2, 16)
    assert mask[0].sum() < mask[1].sum()  # the longer prompt has more tokens
    assert torch.all(emb[0][~mask[0]] == 0)


def test_pooled_token_is_minilms_sentence_embedding_before_normalisation(enc):
    """Oracle: slot 0 of the pooled layout, L2-normalised, is sentence-transformers' own sentence embedding
    (mean pooling then normalisation), even when the prompt is longer than the token slots."""
    texts = ["a boot", "a long striped cotton summer dress with thin straps and a flowing skirt"]
    emb, mask = enc.encode_tokens(texts, max_tokens=6, pooled=True)
    plain, _ = enc.encode_tokens(texts, max_tokens=5)
    sentence = enc.encode(texts)
    torch.testing.assert_close(emb[:, 0] / emb[:, 0].norm(dim=1, keepdim=True), sentence, atol=1e-4, rtol=0)
    torch.testing.assert_close(emb[:, 1:], plain)  # the tokens follow, truncated to T - 1
    assert mask[:, 0].all() and mask[1].all() and mask[0].sum() < 6


def test_disk_cache_round_trip(enc, tmp_path):
    texts = ["a sandal", "a sneaker"]
    first = encode_cached(enc, texts, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("minilm-*.safetensors"))) == 1
    assert torch.allclose(encode_cached(enc, texts, cache_dir=tmp_path), first)


@pytest.mark.parametrize("prompt, words", [("", "empty"), ("   ", "empty"), ("boot " * 100, "limit is 64")])
def test_bad_prompts(prompt, words):
    with pytest.raises(GenlensError, match=words):
        check_prompt(prompt)


def test_over_token_limit(enc):
    with pytest.raises(GenlensError, match=f"limit is {enc.max_tokens}"):
        enc.check("antidisestablishmentarianism " * 60)


def test_captions_are_varied_and_held_out_prompts_never_train():
    texts, labels = all_captions()
    assert len(set(labels)) == 10 and min(len(class_captions(c)) for c in range(10)) > 100
    held, held_labels = held_out_prompts()
    assert not set(held) & set(texts) and sorted(set(held_labels)) == list(range(10))
    valid, valid_labels = held_out_prompts("validation")
    assert not set(valid) & (set(texts) | set(held)) and valid_labels == held_labels  # two per class, same order
    with pytest.raises(GenlensError, match="held_out or validation"):
        held_out_prompts("test")


def test_use_captions_do_not_leak_held_out_wording():
    """Use captions teach context ("a sweater for chilly weather") without the held-out prompts' phrases."""
    from genlens.data.captions import MORE_USES, USES

    texts, _ = all_captions()
    assert any("for jogging" in t for t in class_captions(7)) and any("made of wool" in t for t in class_captions(2))
    held, _ = held_out_prompts()
    for prompt in held:  # no training caption contains a held-out prompt, nor any of its 3-word spans
        words = prompt.split()
        spans = {" ".join(words[i:i + 3]) for i in range(len(words) - 2)}
        leaked = [s for s in spans if any(f" {s} " in f" {u} " for uses in USES + MORE_USES for u in uses)]
        assert not leaked, (prompt, leaked)
    assert not any(p in t for p in held for t in texts)


def test_added_captions_use_none_of_the_held_out_content_words():
    """The second caption round (more nouns, more uses, "something {use}") was written after the held-out
    prompts were known, so it must not borrow their words: only function words may repeat."""
    import re

    from genlens.data.captions import MORE_NOUNS, MORE_USES

    function = {"a", "an", "the", "for", "to", "with", "of", "on", "in", "and", "your", "that", "something", "wear"}
    held, _ = held_out_prompts()
    content = {w for p in held for w in re.findall(r"[a-z-]+", p.lower())} - function
    added = {w for group in MORE_NOUNS + MORE_USES for phrase in group for w in re.findall(r"[a-z-]+", phrase)}
    assert not added & content, sorted(added & content)
    assert any(t.startswith("something ") for t in class_captions(4))
