"""Token drift: ranks, KL, URIAL shares on hand-made tensors; answer alignment across a merged
boundary; the tiny model against itself and perturbed copies; the ``drift tokens`` command."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest
import torch

from test_drift_latent import PNG_MAGIC, perturbed_copy
from transferlab.drift import tokens as T
from transferlab.drift.token_scoring import answer_span, plan_batches, score_rows


def summary(ids, lb, lt, rb, rt=None, kl=None) -> T.TokenSummary:
    n = len(ids)
    return T.TokenSummary(
        np.array(ids, np.int64),
        np.array(lb, np.float32),
        np.array(lt, np.float32),
        np.array(rb, np.int64),
        np.array(rt if rt is not None else [1] * n, np.int64),
        np.array(kl if kl is not None else [0.0] * n, np.float32),
    )


# -- pure ----------------------------------------------------------------------------------------
def test_ranks_logprobs_and_exact_kl_by_hand():
    logits = torch.tensor([[1.0, 3.0, 2.0, 3.0]]).expand(4, 4)
    assert T.token_ranks(logits, torch.tensor([1, 3, 2, 0])).tolist() == [1, 1, 3, 4]  # ties with the max rank 1
    lp = torch.log(torch.tensor([[0.5, 0.25, 0.25]]))
    assert T.token_logprobs(lp, torch.tensor([1])).item() == pytest.approx(math.log(0.25))
    p, q = torch.log(torch.tensor([0.5, 0.5])), torch.log(torch.tensor([0.25, 0.75]))
    assert T.exact_kl(p, q).item() == pytest.approx(0.5 * math.log(2) + 0.5 * math.log(2 / 3), rel=1e-6)
    assert T.exact_kl(p, p).item() == 0.0
    batched = T.token_ranks(torch.randn(2, 5, 50), torch.randint(0, 50, (2, 5)))
    assert batched.shape == (2, 5) and batched.min() >= 1 and batched.max() <= 50


def test_urial_shares_rank_shift_and_sampled_kl_by_hand():
    ranks = np.array([1, 1, 2, 3, 4, 10])
    assert T.urial_category(ranks).tolist() == [0, 0, 1, 1, 2, 2]
    assert T.urial_shares(ranks) == pytest.approx({"unshifted": 1 / 3, "marginal": 1 / 3, "shifted": 1 / 3})
    assert T.rank_shift(ranks) == pytest.approx(2.5)
    a = summary([1, 2], lb=[-1.0, -2.0], lt=[-0.8, -1.6], rb=[1, 1], kl=[0.1, 0.3])
    b = summary([3], lb=[-2.0], lt=[-1.0], rb=[5], kl=[0.5])
    assert T.sampled_kl([a, b]) == pytest.approx((0.3 + 1.0) / 2)  # per sample first, then over samples
    assert T.mean_exact_kl([a, b]) == pytest.approx((0.2 + 0.5) / 2)
    assert math.isnan(T.sampled_kl([])) and math.isnan(T.urial_shares(np.array([]))["shifted"])


def test_top_shifted_tokens_and_position_shares_by_hand():
    rows = T.top_shifted_tokens(np.array([5, 5, 7, 5, 7, 9]), np.array([4, 5, 1, 1, 9, 2]), k=5, decode=lambda i: f"<{i}>")
    assert [(r["token"], r["shifted"], r["occurrences"]) for r in rows] == [("<5>", 2, 3), ("<7>", 1, 2)]
    assert rows[0]["shifted_share"] == pytest.approx(2 / 3)
    pos = T.position_shares([summary([1, 2, 3, 4], lb=[0] * 4, lt=[0] * 4, rb=[1, 5, 1, 5], kl=[0.0, 1.0, 0.0, 3.0])])
    assert [(r["label"], r["tokens"], r["shifted"]) for r in pos["absolute"]] == [("0", 1, 0.0), ("1", 1, 1.0), ("2-3", 2, 0.5)]
    assert pos["absolute"][2]["exact_kl"] == pytest.approx(1.5)
    assert [r["label"] for r in pos["relative"]] == ["0-10%", "20-30%", "50-60%", "70-80%"]
    whole = T.summarize([summary([1, 2, 3, 4], lb=[0] * 4, lt=[0] * 4, rb=[1, 5, 1, 5])])
    assert whole["answer_tokens"] == 4 and whole["rank_shift"] == pytest.approx(2.0) and whole["top_shifted_tokens"][0]["token_id"] == 2


def crafted_tokenizer():
    """A BPE whose only merge is a+b: "ca" + "bc" tokenizes as c|ab|c, merging across the boundary."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(vocab={"a": 0, "b": 1, "c": 2, "ab": 3}, merges=[("a", "b")]))
    return PreTrainedTokenizerFast(tokenizer_object=bpe)


def test_answer_tokens_align_across_a_merged_boundary(tiny_model):
    tok = crafted_tokenizer()
    ids, start = answer_span(tok, "ca", "bc", add_special_tokens=False)
    assert ids == [2, 3, 2] and start == 1  # the merged "ab" is the first answer token; "c" follows
    assert answer_span(tok, "cc", "ab", add_special_tokens=False) == ([2, 2, 3], 2)  # no merge: the answer starts after the prompt
    from transferlab.models import load_tokenizer

    tiny = load_tokenizer(tiny_model)
    ids, start = answer_span(tiny, "How many app", "les", add_special_tokens=False)
    assert tiny.convert_ids_to_tokens(ids[start:]) == ["pl", "es"]  # "p|p" + "les" -> "p|pl|es"
    ids, start = answer_span(tiny, "x = 1", "4", add_special_tokens=False)
    assert tiny.convert_ids_to_tokens(ids[start:]) == ["Ġ14"]


def test_batches_bound_the_logits_held():
    rows = [(list(range(10 + n)), 10) for n in (50, 3, 40, 0, 7)]
    batches = plan_batches(rows, batch_size=8, max_positions=60)
    assert sorted(i for b in batches for i in b) == [0, 1, 2, 4]  # the empty answer is not scored
    assert all(len(b) * max(len(rows[i][0]) - 10 for i in b) <= 60 for b in batches if len(b) > 1)


# -- on the tiny model ---------------------------------------------------------------------------
PROMPTS = ["What is 2 + 3? ", "How many eggs do the ducks lay each day", "find the total cost of the pens", "1 + 4 ="]


def greedy_rows(model, tok, new_tokens=12):
    """Rows (prompt ids + the model's own greedy ids, answer start): no re-tokenization involved."""
    rows = []
    for prompt in PROMPTS:
        ids = tok(prompt, add_special_tokens=False)["input_ids"]
        out = model.generate(torch.tensor([ids]), max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, pad_token_id=0)
        rows.append((out[0].tolist(), len(ids)))
    return rows


def score(base, tuned, rows, **kw):
    got = dict(score_rows(base, tuned, rows, pad_id=0, **kw))
    return [got[i] for i in range(len(rows))]


@pytest.fixture(scope="module")
def tiny_parts(tiny_model):
    from transferlab.backends.hf import HFBackend

    backend = HFBackend(str(tiny_model), device="cpu")
    return backend.hf_model, backend.tokenizer


@pytest.mark.slow
def test_model_against_itself_gives_rank_one_and_zero_kl_on_greedy_answers(tiny_parts):
    model, tok = tiny_parts
    rows = greedy_rows(model, tok)
    batched = score(model, model, rows, batch_size=4)
    for s, (ids, start) in zip(batched, rows):
        assert len(s) == len(ids) - start == 12 and s.token_ids.tolist() == ids[start:]
        assert s.rank_base.tolist() == [1] * 12 and s.rank_tuned.tolist() == [1] * 12
        np.testing.assert_array_equal(s.logprob_base, s.logprob_tuned)
        np.testing.assert_allclose(s.kl_exact, 0.0, atol=1e-6)
        # Flat memory: per-token summaries only, 36 bytes a token whatever the vocabulary size.
        assert s.nbytes == 36 * len(s) < model.config.vocab_size * 4
    result = T.summarize(batched)
    assert result["sampled_kl"] == 0.0 and result["exact_kl"] == pytest.approx(0.0, abs=1e-6) and result["rank_shift"] == 0.0
    assert result["urial_shares"]["unshifted"] == 1.0 and result["top_shifted_tokens"] == []
    # Left padding with explicit positions: a row scores the same alone as in a padded batch.
    for a, b in zip(score(model, model, rows, batch_size=1), batched):
        np.testing.assert_allclose(a.logprob_base, b.logprob_base, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_perturbed_copies_drift_more_with_more_noise(tiny_model, tiny_parts, tmp_path):
    from transferlab.backends.hf import HFBackend

    base, tok = tiny_parts
    results = []
    for scale in (0.02, 0.1, 0.5):
        tuned = HFBackend(str(perturbed_copy(tiny_model, tmp_path / f"n{scale}", scale, seed=1)), device="cpu").hf_model
        rows = greedy_rows(tuned, tok)  # the tuned model's own greedy answers
        per_sample = score(base, tuned, rows, batch_size=2)
        assert all(s.rank_tuned.tolist() == [1] * len(s) for s in per_sample)
        results.append(T.summarize(per_sample))
    for key in ("exact_kl", "sampled_kl", "rank_shift"):
        values = [r[key] for r in results]
        assert 0 < values[0] < values[1] < values[2], (key, values)
    assert results[2]["urial_shares"]["shifted"] > results[0]["urial_shares"]["shifted"]


@pytest.mark.slow
def test_drift_tokens_command_on_the_tiny_model(tiny_model, shared_data, tmp_path):
    from transferlab.commands import drift
    from transferlab.store import Store

    parser = argparse.ArgumentParser()
    drift.register(parser.add_subparsers())
    store, out = tmp_path / "runs.db", tmp_path / "out"
    argv = [
        "drift",
        "tokens",
        "--base",
        str(tiny_model),
        "--tuned",
        str(tiny_model),
        "--store",
        str(store),
        "--benchmarks",
        "gsm8k",
        "--n",
        "3",
        "--out",
        str(out),
        "--data-dir",
        str(shared_data),
        "--max-new-tokens",
        "16",
        "--device",
        "cpu",
        "--quiet",
    ]
    args = parser.parse_args(argv)
    assert args.func(args) == 0
    with Store(store) as s:
        assert s.count_completions() == 3  # the tuned model's greedy answers were generated into the store
    strict = lambda constant: pytest.fail(f"{constant} in the JSON")  # noqa: E731 - NaN must be written as null
    data = json.loads((out / "tokens__tiny-qwen2-vs-tiny-qwen2__gsm8k.json").read_text(), parse_constant=strict)
    result = data["result"]
    assert data["kind"] == "tokens" and data["settings"]["generation"]["temperature"] == 0.0
    assert result["samples"] == 3 and result["answer_tokens"] > 0
    assert result["sampled_kl"] == 0.0 and result["exact_kl"] == pytest.approx(0.0, abs=1e-6)
    assert result["rank_shift"] == result["tuned_rank_shift"]  # the same model: the same ranks
    # The store kept the generated ids, so the model's own greedy tokens are scored, not a
    # re-tokenization of its (random, byte-level) text: rank 1 at every answer token.
    assert data["settings"]["answers_with_generated_ids"] == 3
    assert result["urial_shares"]["unshifted"] == 1.0 and result["rank_shift"] == 0.0
    assert "| benchmark | rank | token |" in (out / "tokens__tiny-qwen2-vs-tiny-qwen2__top_shifted.md").read_text()
    for name in ("shares", "kl", "positions"):
        assert (out / f"tokens__tiny-qwen2-vs-tiny-qwen2__{name}.png").read_bytes()[:8] == PNG_MAGIC
    # The per-token rows the viewer colours: one line per stored answer, a piece and two ranks per token.
    rows = [json.loads(line) for line in (out / "tokens__tiny-qwen2-vs-tiny-qwen2__gsm8k.samples.jsonl").read_text().splitlines()]
    with Store(store) as s:
        stored = {c.key: c.item_id for c in s.completions(benchmark="gsm8k")}
    assert {r["key"]: r["item_id"] for r in rows} == stored
    assert sum(len(r["tokens"]) for r in rows) == result["answer_tokens"]
    assert all(len(r["tokens"]) == len(r["rank_base"]) == len(r["rank_tuned"]) and set(r["rank_base"]) == {1} for r in rows)
    args = parser.parse_args(argv)  # a second run reuses the stored answers
    assert args.func(args) == 0
    with Store(store) as s:
        assert s.count_completions() == 3

    # The results feed the study report's drift section.
    from transferlab.report.drift import drift_section

    section = drift_section(out)
    assert section is not None and "Token drift" in section.html and "tiny-qwen2-vs-tiny-qwen2" in section.markdown
    unshifted = result["urial_shares"]["unshifted"]
    assert f"| {unshifted:.1%} |" in section.markdown
    assert drift_section(tmp_path / "nothing-here") is None
