"""Rejection-sampled distillation on the tiny model: traces go to the store, the math scorer keeps
only correct ones, a rerun resumes from the store without generating again.

The random tiny model never solves a real problem, so the accepted case is built honestly: the
references of a second prompt file are the numbers the model did end its stored traces with (GSM8K
extraction), and the rerun must accept exactly those traces.
"""

from __future__ import annotations

import argparse
import json

import pytest
import torch

from transferlab.scoring.extract import FALLBACK_SOURCES, extract_math_answer, locate_math_answer
from transferlab.store import Store
from transferlab.train.data import load_prompts, read_sft_jsonl

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One torch thread: on a shared CPU, OpenMP threads waiting on each other make tiny steps 50x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def run_distill(capsys, *argv):
    from transferlab.commands import distill

    parser = argparse.ArgumentParser()
    distill.register(parser.add_subparsers())
    args = parser.parse_args(["distill", *argv])
    code = args.func(args)
    return code, capsys.readouterr().err


def prompt_file(path, problems, answers):
    path.write_text("".join(json.dumps({"problem": p, "answer": a, "answer_style": "gsm8k"}) + "\n" for p, a in zip(problems, answers)))
    return path


def test_distill_keeps_only_traces_the_scorer_accepts(tiny_model, shared_data, tmp_path, capsys):
    problems = [p.question for p in load_prompts("math_train", shared_data, limit=4)]
    store_path, out = tmp_path / "distill.db", tmp_path / "sft.jsonl"
    # The random model almost never ends a trace itself: stop strings end some of them ("stop").
    common = (
        "--teacher",
        str(tiny_model),
        "--samples",
        "4",
        "--temperature",
        "1.0",
        "--max-new-tokens",
        "16",
        "--stop",
        "be",
        "--stop",
        "es",
        "--store",
        str(store_path),
        "--out",
        str(out),
        "--quiet",
        "--thinking",
        "off",
    )

    code, err = run_distill(capsys, "--prompts", str(prompt_file(tmp_path / "wrong.jsonl", problems, ["-123456"] * 4)), *common)
    assert code == 0 and "16 traces asked, 0 already stored, 16 generated; 0 accepted" in err, err
    assert out.read_text() == ""

    with Store(store_path) as store:
        traces = store.completions()
    said = {c.key: extract_math_answer(c.text, "gsm8k") for c in traces}
    ids = [p.id for p in load_prompts(str(tmp_path / "wrong.jsonl"))]
    ended = next(c for c in traces if c.finish_reason == "stop" and said[c.key])
    cut = next(c for c in traces if c.finish_reason == "length" and said[c.key] and c.item_id != ended.item_id)
    # New references: the number one finished trace ended with, and the number of one trace cut by
    # the token budget (right answer, but truncated: never kept).
    answers = {ended.item_id: said[ended.key], cut.item_id: said[cut.key]}
    refs = [answers.get(i, "-123456") for i in ids]

    code, err = run_distill(capsys, "--prompts", str(prompt_file(tmp_path / "right.jsonl", problems, refs)), *common)
    assert code == 0 and "16 traces asked, 16 already stored, 0 generated" in err, err
    expected = {c.key for c in traces if c.finish_reason == "stop" and said[c.key] == answers.get(c.item_id)}
    assert ended.key in expected and cut.key not in expected
    rows = read_sft_jsonl(out)
    assert len(rows) == len(expected)
    kept_texts = {r["completion"][0]["content"] for r in rows}
    assert {c.key for c in traces if c.text in kept_texts} == expected
    assert all(r["prompt"][0]["role"] == "user" and r["completion"][0]["role"] == "assistant" for r in rows)
    assert all(json.loads(line)["meta"]["reference"] in answers.values() for line in out.read_text().splitlines())
    with Store(store_path) as store:
        scored = {r["key"]: r for r in store.rows()}
    # The cut trace's number was a guess from running text (no box, no ####): never credited.
    assert locate_math_answer(cut.text, "gsm8k")[1] in FALLBACK_SOURCES
    assert (scored[cut.key]["score"], scored[cut.key]["score_status"]) == (0.0, "truncated")
    assert {k for k, r in scored.items() if r["score"] == 1.0} == expected
