"""The output projection in vocabulary blocks: the same logits, bit for bit, restored on exit."""

import pytest
import torch
from transformers import AutoModelForCausalLM

from transferlab.backends.head import blocked_linear, vocab_blocked_head


@pytest.mark.parametrize("shape", [(5, 24), (2, 3, 24), (1, 24)])
@pytest.mark.parametrize("bias", [False, True])
def test_blocked_linear_is_the_whole_product(shape, bias):
    gen = torch.Generator().manual_seed(0)
    x, w = torch.randn(*shape, generator=gen), torch.randn(1000, 24, generator=gen)
    b = torch.randn(1000, generator=gen) if bias else None
    whole = torch.nn.functional.linear(x, w, b)
    for rows in (128, 256, 1000, 5000, 0):  # 1000 = 7 x 128 + 104: an uneven last block; one block; off
        assert torch.equal(blocked_linear(x, w, b, rows), whole)
    # blocks narrower than a vector register take another kernel path: equal up to rounding only
    assert torch.allclose(blocked_linear(x, w, b, 7), whole, rtol=1e-5, atol=1e-5)


def _logits(model, ids):
    with torch.inference_mode():
        return model(input_ids=ids).logits


@pytest.mark.parametrize("which", ["tiny_model", "smollm2"])
@pytest.mark.timeout(600)
def test_blocked_head_gives_the_models_own_logits(which, request):
    model = AutoModelForCausalLM.from_pretrained(request.getfixturevalue(which), dtype=torch.float32).eval()
    vocab = model.get_output_embeddings().weight.shape[0]
    rows = 1024 if vocab > 4096 else 64
    ids = torch.randint(0, vocab, (3, 9), generator=torch.Generator().manual_seed(1))
    own = _logits(model, ids)
    with vocab_blocked_head(model, rows) as applied:
        assert applied
        blocked = _logits(model, ids)
    assert torch.equal(blocked, own)
    assert "forward" not in vars(model.get_output_embeddings())  # restored
    with vocab_blocked_head(model, 0) as applied:  # 0: off
        assert not applied
    with vocab_blocked_head(model, vocab) as applied:  # one block: nothing to gain
        assert not applied


@pytest.mark.parametrize("continuous", [True, False])
def test_generation_runs_the_blocked_head_and_changes_nothing(tiny_model, continuous):
    from transferlab.backends.base import PromptJob, SampleSlot
    from transferlab.backends.hf import HFBackend
    from transferlab.spec import GenerationConfig

    backend = HFBackend(str(tiny_model), device="cpu", batch_size=2, continuous=continuous)
    head = backend.hf_model.get_output_embeddings()
    jobs = [PromptJob(f"question {i}: {'why ' * i}", (SampleSlot(str(i), 0, 0), SampleSlot(str(i), 1, 1))) for i in range(3)]

    def run(rows, config):
        backend.head_block_rows = rows
        out, patched = {}, []
        for group in backend.generate(jobs, config):
            patched.append("forward" in vars(head))
            out.update({(s.key, s.sample_index): (c.text, c.finish_reason, c.completion_tokens) for s, c in group})
        assert "forward" not in vars(head)
        return out, patched

    for config in (GenerationConfig(max_new_tokens=12, chat_template=False), GenerationConfig(max_new_tokens=12, temperature=1.0, chat_template=False, seed=3)):
        blocked, patched = run(64, config)
        whole, unpatched = run(0, config)
        assert blocked == whole and all(patched) and not any(unpatched)
