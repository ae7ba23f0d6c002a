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


WORDS: dict[str, torch.Tensor] = {}


class BagOfWordsEncoder:
    """A deterministic stand-in for MiniLM: a sentence is the sum of fixed random word vectors, tokens are the
    word vectors themselves (so captions sharing words are near each other)."""

    name = "bow"

    def __init__(self):
        self.calls = 0

    def _word(self, w):
        if w not in WORDS:  # memoised: indexing ~10,000 captions draws each distinct word once
            g = torch.Generator().manual_seed(sum(ord(c) * 31 ** i for i, c in enumerate(w)) % (2 ** 31))
            WORDS[w] = torch.randn(384, generator=g)
        return WORDS[w]

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
    index = caption_index(enc, caption_round=2, cache_dir=tmp_path)
    again = caption_index(enc, caption_round=2, cache_dir=tmp_path)
    assert again.vectors.shape == index.vectors.shape and enc.calls == 1  # cached
    prompts, _ = held_out_prompts()
    found = find_anchors(enc, prompts, index, 5)
    captions = set(all_captions(2)[0])
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
    model, (tok, _), found = condition_prompts(net, enc, ["shoes for a walk"], AnchorConfig(k=0), caption_round=1)
    assert model is net and found is None and tok.ndim == 3
    index = caption_index(enc, caption_round=1, cache_dir=tmp_path)
    model, (tok, _mask), found = condition_prompts(net, enc, ["shoes for a walk"], AnchorConfig(k=3), index=index,
                                                   caption_round=1)
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
                                   encoder_name="bow", cache_dir=tmp_path, pooled=True, caption_round=1)
    again = cached_anchored_tokens(["a leather ankle boot", "a bag for the groceries"], k=2, max_tokens=6,
                                   encoder_name="bow", cache_dir=tmp_path, pooled=True, caption_round=1)
    assert loads == ["bow"]  # the second call never loads the encoder
    assert first[0].shape == (2, 3, 6, 384) and first[2][0][0] == "a leather ankle boot"
    torch.testing.assert_close(first[0], again[0])
    assert first[2] == again[2]
    torch.testing.assert_close(first[0][:, 0], enc.encode_tokens(["a leather ankle boot", "a bag for the groceries"],
                                                                 max_tokens=6, pooled=True)[0])


# ----------------------------------------------------------------------------------------- caption rounds
ROUND2_ONLY = "something for a heatwave"  # a caption of round 2 (T-shirt/top) that round 1 does not have


def _only_in_round_2() -> set[str]:
    return set(all_captions(2)[0]) - set(all_captions(1)[0])


def test_shipped_text_model_never_anchors_to_a_caption_it_did_not_see(tmp_path, monkeypatch):
    """fmnist-ddpm-text was trained on round 1: through its pipeline, neither the held-out prompts, nor the
    validation prompts, nor a round-2 caption typed as the prompt itself is anchored to a round-2-only caption."""
    import genlens.text
    from genlens.diffusion.pipeline import DiffusionPipeline

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(genlens.text, "load_text_encoder", lambda name="minilm", **kw: BagOfWordsEncoder())
    pipe = DiffusionPipeline.from_folder("fmnist-ddpm-text", verify=False, anchors=8)
    assert pipe.bundle.caption_round == 1
    later, seen = _only_in_round_2(), set(all_captions(1)[0])
    assert ROUND2_ONLY in later and len(later) == 1420
    prompts = held_out_prompts()[0] + held_out_prompts("validation")[0] + [ROUND2_ONLY]
    _, found = pipe.prompt_condition(prompts)
    candidates = {t for row in found.texts for t in row}
    assert candidates <= seen and not candidates & later
    assert ROUND2_ONLY not in found.texts[-1]


def test_a_tiny_models_round_decides_its_anchors_and_another_rounds_index_is_refused(toy, tmp_path, monkeypatch):
    import genlens.text
    from genlens.diffusion.pipeline import DiffusionPipeline

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(genlens.text, "load_text_encoder", lambda name="minilm", **kw: BagOfWordsEncoder())
    net, later = toy.denoiser("text"), _only_in_round_2()
    rows = {}
    for rnd in (1, 2):
        pipe = DiffusionPipeline.from_model(net, caption_round=rnd, anchors=3)
        rows[rnd] = pipe.prompt_condition([ROUND2_ONLY])[1].texts[0]
    assert not set(rows[1]) & later and rows[2][0] == ROUND2_ONLY  # round 2 has it, so it finds itself first
    index = caption_index(BagOfWordsEncoder(), caption_round=2, cache_dir=tmp_path)
    with pytest.raises(GenlensError, match="holds round 2 but the model was trained on round 1"):
        condition_prompts(net, BagOfWordsEncoder(), [ROUND2_ONLY], AnchorConfig(k=3), index=index, caption_round=1)


def test_anchor_caches_are_keyed_by_round_so_an_old_union_index_is_never_reused(tmp_path, monkeypatch):
    import genlens.text
    from genlens.diffusion.anchors import caption_index_path
    from genlens.diffusion.prompt_cache import cached_anchored_tokens

    monkeypatch.setattr(genlens.text, "load_text_encoder", lambda name="minilm", **kw: BagOfWordsEncoder())
    assert caption_index_path("bow", caption_round=1, cache_dir=tmp_path) != \
        caption_index_path("bow", caption_round=2, cache_dir=tmp_path)
    kw = dict(k=2, max_tokens=6, encoder_name="bow", cache_dir=tmp_path)
    two = cached_anchored_tokens([ROUND2_ONLY], caption_round=2, **kw)  # fills a round-2 (union) cache first
    one = cached_anchored_tokens([ROUND2_ONLY], caption_round=1, **kw)  # must not read it
    assert two[2][0][0] == ROUND2_ONLY and not set(one[2][0]) & _only_in_round_2()


def test_eval_scores_validation_prompts_with_the_evaluator_an_interval_and_the_models_round(run, tiny_fmnist, tmp_path,
                                                                                           monkeypatch):
    import genlens.text
    from genlens.data.fashion_mnist import CLASS_NAMES
    from genlens.diffusion import DiffusionTrainConfig, UNetConfig, save_diffusion
    from genlens.diffusion.unet import Denoiser

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(genlens.text, "load_text_encoder", lambda name="minilm", **kw: BagOfWordsEncoder())
    cfg = DiffusionTrainConfig(unet=UNetConfig.tiny("text", num_classes=10), steps=1, caption_round=1)
    torch.manual_seed(0)
    folder = save_diffusion(tmp_path / "m", Denoiser(cfg.unet), config=cfg, class_names=CLASS_NAMES, command="test",
                            metrics={})
    data = tiny_fmnist(n_train=16, n_test=8)
    args = ["eval", folder, "--prompts", "--prompt-set", "validation", "--k", "1", "--n", "10", "--steps", "1",
            "--anchors", "2", "--data-dir", data, "--device", "cpu", "--out", tmp_path / "ev", "--json"]
    code, stdout, err = run([*args, "--judge", "genlens-eval"])
    assert code == 0, err
    result = json.loads(stdout)
    p, ci = result["prompts"], result["prompts"]["accuracy_interval"]
    assert p["judge"] == result["class_eval"]["judge"] == "genlens-eval" and p["prompt_set"] == "validation"
    assert ci["unit"] == "prompt" and ci["n"] == 20 and ci["low"] <= p["accuracy"] <= ci["high"]
    assert p["anchors"]["caption_round"] == 1
    assert not {a["caption"] for r in p["anchors"]["per_prompt"] for a in r["anchors"]} & _only_in_round_2()
    code, _, err = run([*args, "--judge", "no-such-judge"])
    assert code == 2 and "no-such-judge" in err and len(err.strip().splitlines()) == 1
