"""Caption anchoring: retrieval from the training captions, the composed ε, and sampling through it."""
import importlib
import json

import pytest
import torch

from genlens.data.captions import all_captions, held_out_prompts
from genlens.diffusion.anchors import (
    AnchorConfig,
    AnchoredDenoiser,
    CaptionIndex,
    caption_index,
    condition_prompts,
    find_anchors,
)
from genlens.errors import GenlensError

sample = importlib.import_module("genlens.diffusion.sample").sample


class BagOfWordsEncoder:
    """A deterministic stand-in for MiniLM: a sentence is the sum of fixed random word vectors, tokens are the
    word vectors themselves (so captions sharing words are near each other)."""

    name = "bow"

    def __init__(self):
        self.calls = 0

    def _word(self, w):
        g = torch.Generator().manual_seed(sum(ord(c) * 31 ** i for i, c in enumerate(w)) % (2 ** 31))
        return torch.randn(384, generator=g)

    def check(self, text):
        if not text.strip():
            raise GenlensError("the prompt is empty")
        return " ".join(text.split())

    def encode(self, texts):
        self.calls += 1
        return torch.nn.functional.normalize(torch.stack([sum(self._word(w) for w in t.split()) for t in texts]), dim=-1)

    def encode_tokens(self, texts, *, max_tokens, pooled=False):
        from genlens.text.encoder import pack_tokens

        return pack_tokens([torch.stack([self._word(w) for w in t.split()]) for t in texts], max_tokens=max_tokens,
                           dim=384, pooled=pooled)


def test_config_weights_sum_to_one_and_zero_anchors_is_the_plain_prompt():
    w = AnchorConfig(k=4).weights()
    assert w.tolist() == pytest.approx([0.0, 0.25, 0.25, 0.25, 0.25]) and float(w.sum()) == pytest.approx(1.0)
    assert not AnchorConfig(k=0).active and AnchorConfig(k=0).weights().tolist() == [1.0]
    with pytest.raises(GenlensError):
        AnchorConfig(k=-1)


def test_index_returns_the_nearest_captions_in_order():
    vectors = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]]), dim=-1)
    index = CaptionIndex(["a", "b", "c"], torch.tensor([0, 1, 2]), vectors)
    idx, cos = index.nearest(torch.tensor([[0.0, 1.0]]), 2)
    assert idx.tolist() == [[2, 1]] and cos[0].tolist() == pytest.approx([1.0, 0.8])
    with pytest.raises(GenlensError, match="between 1 and 3"):
        index.nearest(torch.tensor([[0.0, 1.0]]), 4)


def test_anchors_come_from_the_training_captions_never_the_held_out_prompts(tmp_path):
    enc = BagOfWordsEncoder()
    index = caption_index(enc, cache_dir=tmp_path)
    assert caption_index(enc, cache_dir=tmp_path).vectors.shape == index.vectors.shape and enc.calls == 1  # cached
    prompts, _ = held_out_prompts()
    found = find_anchors(enc, prompts, index, 5)
    captions = set(all_captions()[0])
    held = set(prompts)
    assert all(t in captions and t not in held for row in found.texts for t in row)
    assert (found.cosine[:, :-1] >= found.cosine[:, 1:]).all()  # nearest first
    exact = find_anchors(enc, ["a leather ankle boot"], index, 1)  # a training caption finds itself
    assert exact.texts[0][0] == "a leather ankle boot" and float(exact.cosine[0, 0]) == pytest.approx(1.0, abs=1e-3)
    record = exact.to_records(["T-shirt/top", "Trouser"])[0]["anchors"][0]
    assert record["caption"] == "a leather ankle boot" and record["class"] == 9  # names beyond the list stay indices


def test_anchored_eps_is_the_weighted_sum_of_each_conditions_eps_and_null_rows_stay_null(toy):
    net = toy.denoiser("text")
    plan = AnchorConfig(k=2)
    wrapped = AnchoredDenoiser(net, plan)
    g = torch.Generator().manual_seed(0)
    b, t_len = 3, net.config.max_tokens
    tokens = torch.randn(b, 3, t_len, 384, generator=g)
    mask = torch.ones(b, 3, t_len, dtype=torch.bool)
    x = torch.randn(b, 1, 32, 32, generator=g)
    t = torch.tensor([10, 500, 900])
    drop = torch.tensor([False, True, False])
    with torch.no_grad():
        got = wrapped(x, t, (tokens, mask), drop=drop)
        parts = [net(x, t, (tokens[:, i], mask[:, i])) for i in range(3)]
        want = 0.5 * parts[1] + 0.5 * parts[2]  # the prompt's own slot weighs nothing
        null = net(x, t, (tokens[:, 0], mask[:, 0]), drop=torch.ones(b, dtype=torch.bool))
    torch.testing.assert_close(got[[0, 2]], want[[0, 2]], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(got[1], null[1], rtol=1e-4, atol=1e-5)


def test_anchors_that_equal_the_prompt_sample_the_same_images_as_the_prompt_alone(toy):
    net = toy.denoiser("text")
    g = torch.Generator().manual_seed(1)
    tok = torch.randn(2, net.config.max_tokens, 384, generator=g)
    mask = torch.ones(2, net.config.max_tokens, dtype=torch.bool)
    plain = sample(net, (tok, mask), steps=3, guidance=3.0, generator=torch.Generator().manual_seed(5))
    same = (tok[:, None].expand(-1, 4, -1, -1), mask[:, None].expand(-1, 4, -1))
    anchored = sample(AnchoredDenoiser(net, AnchorConfig(k=3)), same, steps=3, guidance=3.0,
                      generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(anchored, plain, rtol=1e-4, atol=1e-4)


def test_condition_prompts_is_plain_without_anchors_and_skips_the_prompts_own_slot(toy, tmp_path):
    net, enc = toy.denoiser("text"), BagOfWordsEncoder()
    model, (tok, _), found = condition_prompts(net, enc, ["shoes for a walk"], AnchorConfig(k=0))
    assert model is net and found is None and tok.ndim == 3
    index = caption_index(enc, cache_dir=tmp_path)
    model, (tok, _mask), found = condition_prompts(net, enc, ["shoes for a walk"], AnchorConfig(k=3), index=index)
    assert isinstance(model, AnchoredDenoiser) and tok.shape[:2] == (1, 4) and len(found.texts[0]) == 3
    assert model._used == [1, 2, 3]  # the prompt's own slot is not evaluated
    with pytest.raises(GenlensError, match="text-conditional"):
        AnchoredDenoiser(toy.denoiser("class"), AnchorConfig(k=2))


def test_cli_sample_writes_the_anchors_it_used(run, model_folder, tmp_path, monkeypatch):
    import genlens.text

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(genlens.text, "load_text_encoder", lambda name="minilm", **kw: BagOfWordsEncoder())
    out = tmp_path / "out"
    code, stdout, err = run(["sample", model_folder("text"), "--prompt", "a leather ankle boot", "--n", "2",
                             "--steps", "2", "--anchors", "3", "--out", out, "--json"])
    assert code == 0, err
    record = json.loads(stdout)
    assert record["anchors"] == 3 and len(record["anchor_captions"]) == 3
    assert record["anchor_captions"][0]["caption"] == "a leather ankle boot"
    assert json.loads((out / "run.json").read_text())["config"]["anchors"] == 3
    code, stdout, err = run(["sample", model_folder("text"), "--prompt", "a leather ankle boot", "--n", "1",
                             "--steps", "1", "--anchors", "0", "--out", tmp_path / "plain", "--json"])
    assert code == 0 and "anchor_captions" not in json.loads(stdout), err
    code, _, err = run(["sample", model_folder("text"), "--prompt", "a boot", "--anchors", "-2", "--out", out])
    assert code != 0 and "--anchors must be a whole number >= 0" in err


def test_cached_anchored_tokens_hit_the_disk_the_second_time(tmp_path, monkeypatch):
    import genlens.text
    from genlens.diffusion.prompt_cache import cached_anchored_tokens

    enc = BagOfWordsEncoder()
    loads = []
    monkeypatch.setattr(genlens.text, "load_text_encoder", lambda name="minilm", **kw: loads.append(name) or enc)
    first = cached_anchored_tokens(["a leather ankle boot", "a bag for the groceries"], k=2, max_tokens=6,
                                   encoder_name="bow", cache_dir=tmp_path, pooled=True)
    again = cached_anchored_tokens(["a leather ankle boot", "a bag for the groceries"], k=2, max_tokens=6,
                                   encoder_name="bow", cache_dir=tmp_path, pooled=True)
    assert loads == ["bow"]  # the second call never loads the encoder
    assert first[0].shape == (2, 3, 6, 384) and first[2][0][0] == "a leather ankle boot"
    torch.testing.assert_close(first[0], again[0])
    assert first[2] == again[2]
    torch.testing.assert_close(first[0][:, 0], enc.encode_tokens(["a leather ankle boot", "a bag for the groceries"],
                                                                 max_tokens=6, pooled=True)[0])
