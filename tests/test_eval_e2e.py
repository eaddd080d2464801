"""The whole path on a tiny real model: eval -> store -> SIGKILL -> resume -> re-score -> results."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import run_cli
from transferlab.cli import main
from transferlab.errors import StoreError
from transferlab.store import Store

pytestmark = pytest.mark.slow


def eval_args(model, store, data, *extra):
    return [
        "eval",
        "--model",
        str(model),
        "--benchmarks",
        "gsm8k,math500",
        "--limit",
        "20",
        "--samples",
        "4",
        "--temperature",
        "0.8",
        "--top-p",
        "0.95",
        "--max-new-tokens",
        "48",
        "--batch-size",
        "16",
        "--seed",
        "3",
        "--store",
        str(store),
        "--data-dir",
        str(data),
        "--quiet",
        *extra,
    ]


def stored(store) -> dict[str, str]:
    """``{key: text}`` of the stored completions, read as another process would while a run writes."""
    if not store.exists():
        return {}
    try:
        with Store(store, readonly=True) as s:
            return {c.key: c.text for c in s.completions()}
    except StoreError:  # the run has not created its tables yet
        return {}


def test_killed_run_resumes_without_losing_or_repeating(tiny_model, shared_data, tmp_path):
    store = tmp_path / "runs.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "transferlab.cli", *eval_args(tiny_model, store, shared_data, "--no-score")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    deadline = time.time() + 300
    while len(stored(store)) < 24 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    before = stored(store)
    assert 24 <= len(before) < 160

    done = run_cli(*eval_args(tiny_model, store, shared_data))
    assert done.returncode == 0, done.stderr
    assert f"160 completions asked, {len(before)} already stored, {160 - len(before)} generated" in done.stderr
    after = stored(store)
    assert len(after) == 160 and all(after[k] == v for k, v in before.items())

    # Seeds reach the sampler: an uninterrupted run in a fresh store produces the very same samples.
    fresh = tmp_path / "fresh.db"
    assert run_cli(*eval_args(tiny_model, fresh, shared_data, "--no-score")).returncode == 0
    assert stored(fresh) == after

    # Raising k generates only the new samples.
    more = run_cli(*eval_args(tiny_model, store, shared_data, "--samples", "6"))
    assert "240 completions asked, 160 already stored, 80 generated" in more.stderr, more.stderr

    # Re-scoring needs no generation and repairs a tampered verdict.
    db = sqlite3.connect(store)
    db.execute("UPDATE scores SET score = 0.5, status = 'tampered'")
    db.commit()
    db.close()
    assert main(["score", "--store", str(store)]) == 0
    db = sqlite3.connect(store)
    statuses = {s for (s,) in db.execute("SELECT DISTINCT status FROM scores")}
    assert "tampered" not in statuses and db.execute("SELECT count(*) FROM scores").fetchone()[0] == 240
    db.close()
    assert len(stored(store)) == 240


def test_results_and_export(tiny_model, shared_data, tmp_path, capsys):
    store = tmp_path / "runs.db"
    assert main(eval_args(tiny_model, store, shared_data, "--limit", "5", "--samples", "2")) == 0
    capsys.readouterr()
    assert main(eval_args(tiny_model, store, shared_data, "--limit", "5", "--samples", "2")) == 0  # all stored already
    assert "20 completions asked, 20 already stored, 0 generated" in capsys.readouterr().err
    assert main(["results", "--store", str(store), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["benchmark"] for r in rows} == {"gsm8k", "math500"}
    for r in rows:
        assert (r["items"], r["samples_per_item"], r["unscored"]) == (5, 2, 0)
        assert r["ci_low"] <= r["accuracy"] <= r["ci_high"]
        assert 0 <= r["truncated_rate"] <= 100 and r["mean_completion_tokens"] > 0
    out = tmp_path / "completions.jsonl"
    assert main(["export", "--store", str(store), "--out", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 20
    for line in lines:
        for field in (
            "model",
            "benchmark",
            "item_id",
            "sample_index",
            "seed",
            "text",
            "thinking",
            "answer",
            "finish_reason",
            "prompt_tokens",
            "completion_tokens",
            "score",
        ):
            assert field in line
        assert line["finish_reason"] in ("stop", "length") and line["score"] in (0.0, 1.0)
    df = __import__("transferlab.store", fromlist=["Store"]).Store(store, readonly=True).to_dataframe()
    assert len(df) == 20 and {"text", "score", "benchmark"} <= set(df.columns)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--benchmarks", "gsm8k,mmlu"], "unknown benchmark 'mmlu'"),
        (["--model", "/no/such/model"], "not found"),
        (["--samples", "0"], "samples must be at least 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tiny_model, shared_data, tmp_path, capsys, args, message):
    base = {"--model": str(tiny_model), "--benchmarks": "gsm8k", "--store": str(tmp_path / "s.db"), "--samples": "1"}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    argv = ["eval", "--data-dir", str(shared_data), "--limit", "2", "--max-new-tokens", "4", "--quiet"] + [x for kv in base.items() for x in kv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and err[0].startswith("transferlab: error:")


def test_bad_data_and_newer_store_leave_the_store_intact(tiny_model, shared_data, tmp_path, capsys):
    store = tmp_path / "s.db"
    assert (
        main(
            [
                "eval",
                "--model",
                str(tiny_model),
                "--benchmarks",
                "gsm8k",
                "--limit",
                "3",
                "--max-new-tokens",
                "4",
                "--store",
                str(store),
                "--data-dir",
                str(shared_data),
                "--quiet",
            ]
        )
        == 0
    )
    before = stored(store)
    broken = tmp_path / "data" / "gsm8k"
    broken.mkdir(parents=True)
    (broken / "test.jsonl").write_text('{"question": "q", "answer": "#### 1"}\n{"question": \n')
    capsys.readouterr()
    assert main(["eval", "--model", str(tiny_model), "--benchmarks", "gsm8k", "--store", str(store), "--data-dir", str(tmp_path / "data"), "--quiet"]) == 2
    assert "malformed JSON" in capsys.readouterr().err
    assert stored(store) == before
    db = sqlite3.connect(store)
    db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    assert main(["results", "--store", str(store)]) == 2
    assert "schema version 99" in capsys.readouterr().err


def test_grade_math_regrades_other_harness_outputs(shared_data, tmp_path):
    rows = [json.loads(line) for line in (shared_data / "math_generations" / "math_cot_100.jsonl").read_text().splitlines()[:25]]
    src = tmp_path / "answers.jsonl"
    with src.open("w") as f:
        for row in rows:
            f.write(json.dumps({"gold": row["gt"], "response": row["code"][0], "published": row["score"][0]}) + "\n")
        f.write(json.dumps({"gold": "4", "response": "<think>maybe \\boxed{5}</think> so \\boxed{4}", "published": True}) + "\n")
        f.write(json.dumps({"gold": "4", "response": "<think>it is \\boxed{4} but wait", "published": False}) + "\n")
    out = tmp_path / "verdicts.jsonl"
    assert main(["grade", "math", "--in", str(src), "--out", str(out)]) == 0
    graded = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(graded) == 27 and all("extracted" in g for g in graded)
    assert sum(g["correct"] == g["published"] for g in graded) >= 26
    assert graded[-2]["correct"] and graded[-2]["extracted"] == "4"
    assert not graded[-1]["correct"] and graded[-1]["grade_status"] == "truncated_thinking"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"answer": "1", "response": "x"}\n')
    assert main(["grade", "math", "--in", str(bad), "--out", str(tmp_path / "o.jsonl")]) == 2
