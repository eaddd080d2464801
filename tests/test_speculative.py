"""Prompt-lookup speculative decoding in continuous batching: same greedy tokens, fewer steps."""

import pytest
import torch

from transferlab.backends.base import PromptJob, SampleSlot
from transferlab.backends.hf import HFBackend
from transferlab.backends.lookup import accepted_prefix, lookup_draft
from transferlab.backends.ragged import RaggedCache, packed_gqa_sdpa
from transferlab.spec import GenerationConfig

QUESTIONS = [
    "Tom has 3 bags with 12 apples in each bag. He gives 7 apples away. How many apples does Tom have left?",
    "A shop sells pens at $2 each and notebooks at $5 each. Mia buys 4 pens and 3 notebooks. How much does she pay?",
    "Sara reads 15 pages a day. Her book has 180 pages. How many days does she need to finish the book?",
    "A train travels 60 miles per hour for 3 hours, then 40 miles per hour for 2 hours. How far does it travel?",
]


# -- the draft: pure functions --------------------------------------------------------------------
def test_lookup_draft_copies_what_followed_the_latest_match():
    assert lookup_draft([1, 2, 3, 4, 9, 1, 2, 3, 5, 6, 1, 2, 3], k=2) == [5, 6]  # latest "1 2 3", not the first
    assert lookup_draft([1, 2, 3, 4, 5, 2, 3], k=8) == [4, 5, 2, 3]  # cut at the end of the ids
    assert lookup_draft([7, 8, 9, 7, 1, 9], k=3, min_ngram=1) == [7, 1, 9]  # no 2-gram "1 9" earlier: the 1-gram "9"
    assert lookup_draft([7, 8, 9, 7, 1, 9], k=3, min_ngram=2) == []
    assert lookup_draft([5, 6, 7, 8], k=4) == [] and lookup_draft([5], k=4) == [] and lookup_draft([], k=4) == []
    assert lookup_draft([4, 4, 4, 4], k=3, min_ngram=1) == [4] and lookup_draft([4, 4, 4, 4], k=3) == [4]  # the suffix itself is never its own match
    assert lookup_draft([1, 2, 1, 2], k=0) == []
    # the longest suffix wins over a later shorter match
    assert lookup_draft([1, 2, 3, 8, 3, 9, 1, 2, 3], k=1, max_ngram=3) == [8]
    assert lookup_draft([1, 2, 3, 8, 3, 9, 1, 2, 3], k=1, max_ngram=1, min_ngram=1) == [9]


def test_accepted_prefix_is_the_confirmed_part_of_the_draft():
    assert accepted_prefix([5, 6, 7], [5, 6, 8, 1]) == 2
    assert accepted_prefix([5, 6, 7], [4, 6, 7, 1]) == 0
    assert accepted_prefix([5, 6, 7], [5, 6, 7, 1]) == 3
    assert accepted_prefix([], [3]) == 0


def test_plan_step_with_several_tokens_per_row_is_causal_inside_them():
    cache = RaggedCache(num_layers=1, rows=2)
    mask = cache.plan_step(torch.tensor([2, 4]), q=3)
    assert mask.shape == (2, 1, 3, 7) and cache.width == 7
    assert mask[0, 0].int().tolist() == [[1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0, 0]]
    assert mask[1, 0, 2].int().tolist() == [1] * 7
    assert cache.write_rows.tolist() == [0, 0, 0, 1, 1, 1] and cache.write_slots.tolist() == [2, 3, 4, 4, 5, 6]
    keys = torch.arange(2 * 3, dtype=torch.float32).view(2, 1, 3, 1)  # (rows, kv_heads, q, head_dim)
    k, _ = cache.layers[0].update(keys, keys + 100)
    assert k[0, 0, 2:5, 0].tolist() == [0, 1, 2] and k[1, 0, 4:7, 0].tolist() == [3, 4, 5]
    # packed: row 0 brings 1 token, row 1 brings 3, as one sequence
    cache.plan_step(torch.tensor([2, 4]), q=3, counts=torch.tensor([1, 3]))
    assert cache.packed_index.tolist() == [0, 3, 4, 5] and cache.write_rows.tolist() == [0, 1, 1, 1] and cache.write_slots.tolist() == [2, 4, 5, 6]
    k, _ = cache.layers[0].update(torch.tensor([10.0, 11, 12, 13]).view(1, 1, 4, 1), torch.zeros(1, 1, 4, 1))
    assert k[0, 0, 2:5, 0].tolist() == [10, 1, 2] and k[1, 0, 4:7, 0].tolist() == [11, 12, 13]


def test_packed_gqa_attention_matches_repeated_heads():
    """The folded-heads SDPA (padded grid and packed sequence) equals attention over repeated key/value heads."""
    from types import SimpleNamespace

    torch.manual_seed(0)
    rows, heads, groups, q, width, dim = 2, 6, 3, 3, 7, 4
    query = torch.randn(rows, heads, q, dim)
    key, value = torch.randn(rows, heads // groups, width, dim), torch.randn(rows, heads // groups, width, dim)
    mask = RaggedCache(1, rows).plan_step(torch.tensor([2, 4]), q=q)
    module = SimpleNamespace(num_key_value_groups=groups)
    ref = torch.nn.functional.scaled_dot_product_attention(
        query, key.repeat_interleave(groups, 1), value.repeat_interleave(groups, 1), attn_mask=mask
    ).transpose(1, 2)
    out, _ = packed_gqa_sdpa(module, query, key, value, mask)
    assert torch.allclose(out, ref, atol=1e-6)
    index = torch.tensor([0, 3, 4, 5])  # row 0: its first token; row 1: all three
    packed = query.transpose(1, 2).reshape(rows * q, heads, dim)[index].transpose(0, 1).unsqueeze(0)
    out, _ = packed_gqa_sdpa(module, packed, key, value, mask, packed_index=index)
    assert torch.allclose(out[0], ref.reshape(rows * q, heads, dim)[index], atol=1e-6)


# -- on real models ----------------------------------------------------------------------------------
def make_jobs(backend, config):
    prompts = [backend.render([{"role": "user", "content": q}], config) for q in QUESTIONS]
    return [PromptJob(p, (SampleSlot(str(i), 0, 0),)) for i, p in enumerate(prompts)]


def run(backend, config, lookup):
    backend.lookup_tokens = lookup
    out = {slot.key: c for group in backend.generate(make_jobs(backend, config), config) for slot, c in group}
    return {k: (c.text, c.finish_reason, c.completion_tokens) for k, c in out.items()}, dict(backend.decode_stats)


def generate_reference(backend, config):
    """transformers' own greedy ``generate``, one prompt at a time."""
    tok, ref = backend.tokenizer, {}
    for job in make_jobs(backend, config):
        ids = tok(job.prompt, add_special_tokens=False, return_tensors="pt")
        new = backend.hf_model.generate(**ids, max_new_tokens=config.max_new_tokens, do_sample=False, pad_token_id=backend.pad_id)[
            0, ids.input_ids.shape[1] :
        ].tolist()
        eos = [j for j, t in enumerate(new) if t in backend.eos_ids]
        new = new[: eos[0]] if eos else new
        ref[job.slots[0].key] = (tok.decode(new, skip_special_tokens=True), "stop" if eos else "length", len(new))
    return ref


def assert_lookup_changes_nothing(backend, config, expect="accepted"):
    """Lookup on gives the off completions (4 prompts through 3 rows: refills), with drafts ``expect``-ed."""
    off, off_stats = run(backend, config, lookup=0)
    on, stats = run(backend, config, lookup=4)
    assert on == off and off_stats["verify_steps"] == 0
    if expect:
        assert stats["drafted"] > 0
    if expect == "accepted":
        assert stats["accepted"] > 0 and stats["steps"] < off_stats["steps"]
    return off, stats


@pytest.mark.slow
def test_tiny_model_lookup_matches_generate(tiny_model):
    backend = HFBackend(str(tiny_model), batch_size=3)
    config = GenerationConfig(max_new_tokens=24)
    off, _ = assert_lookup_changes_nothing(backend, config, expect="drafted")  # a random model: drafts checked, seldom right
    assert off == generate_reference(backend, config)
    # drafts are cut to the token budget: rows end exactly there
    short, _ = assert_lookup_changes_nothing(backend, GenerationConfig(max_new_tokens=13), expect=None)
    assert all(n == 13 or reason == "stop" for _, reason, n in short.values())
    backend.hf_model.set_attn_implementation("eager")  # additive mask, rectangular (padded) verify steps
    assert_lookup_changes_nothing(backend, config, expect="drafted")


@pytest.mark.slow
def test_tiny_model_sampling_never_speculates(tiny_model):
    backend = HFBackend(str(tiny_model), batch_size=3)
    config = GenerationConfig(temperature=1.0, max_new_tokens=16)
    off, _ = run(backend, config, lookup=0)
    on, stats = run(backend, config, lookup=4)
    assert on == off and stats["verify_steps"] == 0 and stats["drafted"] == 0


@pytest.fixture(scope="module")
def smol(smollm2):
    return HFBackend(str(smollm2), batch_size=3)


@pytest.mark.slow
def test_smollm2_lookup_matches_generate(smol):
    config = GenerationConfig(max_new_tokens=32)
    off, stats = assert_lookup_changes_nothing(smol, config)
    assert off == generate_reference(smol, config)
    assert stats["accepted"] >= 5


@pytest.mark.slow
def test_smollm2_stop_string_inside_an_accepted_draft(smol):
    """A stop string met inside an accepted draft ends the row there: the rest of the draft is dropped."""
    config = GenerationConfig(max_new_tokens=20, stop=(" apples",))  # copied from the question
    off, stats = assert_lookup_changes_nothing(smol, config)
    assert stats["cut"] > 0 and "stop" in {reason for _, reason, _ in off.values()}


@pytest.mark.slow
def test_smollm2_eager_attention(smollm2):
    backend = HFBackend(str(smollm2), batch_size=3)
    backend.hf_model.set_attn_implementation("eager")
    assert_lookup_changes_nothing(backend, GenerationConfig(max_new_tokens=16))
