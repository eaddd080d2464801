"""``transferlab import``: completions made elsewhere (a plain JSONL; a real lm-eval --log_samples
run) into the store, then ``score``, ``results``, ``ti`` and ``report`` on them."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import lm_eval_venv
from lm_eval_venv import LM_EVAL_VENV
from transferlab.cli import main
from transferlab.io import read_jsonl
from transferlab.store import Store

GSM8K_ITEMS = 4
IFEVAL_ITEMS = 3


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``transferlab ARGV`` in this process; returns (status, stdout, stderr)."""
    status = main(list(argv))
    out = capsys.readouterr()
    return status, out.out, out.err


def plain_rows(shared_data: Path) -> list[dict]:
    """Two models' answers: "tuned" writes GSM8K's own worked solutions (right), "base" a wrong
    number; both give GPT-4's published IFEval responses (the same text, so Δ non is 0)."""
    gsm = list(read_jsonl(shared_data / "gsm8k" / "test.jsonl"))[:GSM8K_ITEMS]
    keys = {r["prompt"]: r["key"] for r in read_jsonl(shared_data / "ifeval" / "input_data.jsonl")}
    gpt4 = list(read_jsonl(shared_data / "ifeval" / "input_response_data_gpt4_20231107_145030.jsonl"))[:IFEVAL_ITEMS]
    rows = []
    for model in ("lab/base", "lab/tuned"):
        for row in gsm:
            response = row["answer"] if model == "lab/tuned" else "I think the answer is 123456789.\n#### 123456789"
            rows.append(
                {"model": model, "benchmark": "gsm8k", "item_id": str(row["idx"]), "prompt": row["question"], "response": response, "finish_reason": "stop"}
            )
        for row in gpt4:
            rows.append(
                {
                    "model": model,
                    "benchmark": "ifeval",
                    "id": str(keys[row["prompt"]]),
                    "messages": [{"role": "user", "content": row["prompt"]}],
                    "response": row["response"],
                    "completion_tokens": 300,
                    "settings": {"temperature": 0.0},
                }
            )
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_plain_jsonl_import_then_score_results_ti_report(tmp_path, shared_data, capsys):
    source = write_jsonl(tmp_path / "answers.jsonl", plain_rows(shared_data))
    store = tmp_path / "s.db"
    status, _, err = cli(capsys, "import", str(source), "--store", str(store), "--data-dir", str(shared_data))
    assert status == 0, err
    n = 2 * (GSM8K_ITEMS + IFEVAL_ITEMS)
    assert f"{n} completions read" in err and f"{n} new in the store" in err
    # The same file again adds nothing.
    status, _, err = cli(capsys, "import", str(source), "--store", str(store), "--data-dir", str(shared_data))
    assert status == 0 and "0 new in the store" in err
    with Store(store, readonly=True) as s:
        records = s.completions()
        assert len(records) == n and {r.model_key for r in records} == {"lab/base@imported", "lab/tuned@imported"}
        runs = {r["run_id"]: json.loads(r["settings"]) for r in s.runs()}
        assert {r.run_id for r in records} == set(runs)
        assert all(v["imported"] == "jsonl" and v["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest() for v in runs.values())
        assert all(s.gen_settings(r.gen_key)["imported"] == "jsonl" for r in records)

    assert cli(capsys, "score", "--store", str(store))[0] == 0
    status, out, _ = cli(capsys, "results", "--store", str(store), "--json")
    cells = {(r["model"], r["benchmark"]): r for r in json.loads(out)}
    assert cells[("lab/tuned@imported", "gsm8k")]["accuracy"] == 100.0 and cells[("lab/base@imported", "gsm8k")]["accuracy"] == 0.0
    assert cells[("lab/tuned@imported", "gsm8k")]["group"] == "math" and cells[("lab/base@imported", "ifeval")]["group"] == "non"
    assert cells[("lab/base@imported", "ifeval")]["accuracy"] == cells[("lab/tuned@imported", "ifeval")]["accuracy"]
    assert cells[("lab/base@imported", "ifeval")]["mean_completion_tokens"] == 300

    status, out, err = cli(
        capsys, "ti", "--store", str(store), "--base", "lab/base", "--tuned", "lab/tuned", "--json", "--resamples", "200", "--sigma", "math=10,non=10"
    )
    assert status == 0, err
    ti = json.loads(out)
    assert {b["benchmark"]: b["delta"] for b in ti["benchmarks"]} == {"gsm8k": 100.0, "ifeval": 0.0}
    assert ti["math_gain"] > 0 and ti["ti"]["non"] == 0.0

    spec = tmp_path / "study.yaml"
    spec.write_text(
        "name: imported\nmodels:\n  - {name: base, hf: lab/base, revision: imported}\n  - {name: tuned, hf: lab/tuned, revision: imported, base: base, training: SFT}\n"
        "benchmarks: [gsm8k, ifeval]\ngeneration: {samples: 1, temperature: 0.0}\n"
    )
    status, _, err = cli(capsys, "report", "--store", str(store), "--spec", str(spec), "--out", str(tmp_path / "report"), "--resamples", "200")
    assert status == 0, err
    md = (tmp_path / "report" / "report.md").read_text()
    assert "gsm8k" in md and "+100.0" in md


def test_bad_imports_are_one_line_and_store_nothing(tmp_path, shared_data, capsys):
    store = tmp_path / "s.db"
    rows = plain_rows(shared_data)
    cases = {
        "unknown benchmark 'nope'": [*rows, {**rows[0], "benchmark": "nope"}],
        "lacks item_id": [{k: v for k, v in rows[0].items() if k != "item_id"}],
        "gsm8k has no item(s) no-such-item": [{**rows[0], "item_id": "no-such-item"}],
        "two completions of lab/base for gsm8k item 0, sample 0": [{**rows[0], "sample_index": 0}, {**rows[0], "sample_index": 0}],
        "is not a count": [{**rows[0], "completion_tokens": -3}],
    }
    for problem, bad in cases.items():
        status, _, err = cli(capsys, "import", str(write_jsonl(tmp_path / "bad.jsonl", bad)), "--store", str(store), "--data-dir", str(shared_data))
        assert status == 2 and problem in err and len(err.strip().splitlines()) == 1, err
        assert not store.exists()  # nothing stored: a store the failed command created is removed again
    (tmp_path / "samples_boolq_2025-01-01T00-00-00.000001.jsonl").write_text(json.dumps({"doc_id": 0}) + "\n")
    status, _, err = cli(capsys, "import", str(tmp_path / "samples_boolq_2025-01-01T00-00-00.000001.jsonl"), "--store", str(store), "--model", "m")
    assert status == 2 and "lm-eval task 'boolq' has no transferlab benchmark" in err and "--benchmark" in err


# -- a real lm-evaluation-harness run ----------------------------------------------------------------
REPO = Path(__file__).resolve().parents[1]
LM_EVAL_CACHE = REPO / ".cache" / "lm-eval-samples"
LM_EVAL_DOCS = 3
TASKS = {
    "gsm8k_local": ("gsm8k/test.jsonl", "Question: {{question}}\\nAnswer:", "{{answer}}"),
    "ifeval_local": ("ifeval/input_data.jsonl", "{{prompt}}", ""),
}
TASK_YAML = """\
task: {task}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{text}"
doc_to_target: "{target}"
generation_kwargs:
  until: ["Question:"]
  max_gen_toks: 8
  do_sample: false
filter_list:
  - name: strict-match
    filter:
      - function: regex
        regex_pattern: "#### (\\\\-?[0-9\\\\.\\\\,]+)"
      - function: take_first
  - name: flexible-extract
    filter:
      - function: regex
        group_select: -1
        regex_pattern: "(-?[$0-9.,]{{2,}})|(-?[0-9]+)"
      - function: take_first
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1
"""


def lm_eval_python() -> Path:
    """The lm-eval virtualenv perf/eval_throughput.py builds (lm-eval[hf] 0.4.13, our torch and
    transformers; started in the background at collection, tests/lm_eval_venv.py), waited for under
    a deadline; the test is skipped where it cannot be built."""
    try:
        proc = lm_eval_venv.build(timeout=1500)
    except subprocess.TimeoutExpired:
        pytest.skip(f"building the lm-eval virtualenv at {LM_EVAL_VENV} took over 25 minutes")
    if proc.returncode != 0:
        pytest.skip(f"the lm-eval virtualenv cannot be built here ({LM_EVAL_VENV}): {(proc.stdout + proc.stderr).strip()[-500:]}")
    return Path(proc.stdout.strip().splitlines()[-1])


def run_lm_eval(python: Path, model: Path, shared_data: Path, work: Path) -> list[Path]:
    """``lm_eval --log_samples`` of ``model`` on two local tasks (the first documents of GSM8K and
    IFEval); returns its samples files, cached by the inputs' hash (the run is deterministic: greedy)."""
    from transferlab.models import model_fingerprint

    data = {t: "".join(list((shared_data / path).read_text().splitlines(keepends=True))[:LM_EVAL_DOCS]) for t, (path, _, _) in TASKS.items()}
    key = hashlib.sha256(json.dumps([TASK_YAML, TASKS, data, model_fingerprint(model), str(python.resolve())]).encode()).hexdigest()[:16]
    cached = LM_EVAL_CACHE / key
    if not list(cached.glob("samples_*.jsonl")):
        tasks = work / "tasks"
        tasks.mkdir(parents=True)
        for task, (_, text, target) in TASKS.items():
            (work / f"{task}.jsonl").write_text(data[task])
            (tasks / f"{task}.yaml").write_text(TASK_YAML.format(task=task, data=json.dumps(str(work / f"{task}.jsonl")), text=text, target=target))
        cmd = [str(python), "-m", "lm_eval", "--model", "hf", "--model_args", f"pretrained={model},dtype=float32", "--tasks", ",".join(TASKS),
               "--include_path", str(tasks), "--device", "cpu", "--batch_size", "4", "--log_samples", "--output_path", str(work / "out")]  # fmt: skip
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_DATASETS_CACHE": str(work / "hf"), "OMP_NUM_THREADS": "1"}
        env.pop("PYTHONPATH", None)
        proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
        cached.mkdir(parents=True, exist_ok=True)
        for path in (work / "out").rglob("samples_*.jsonl"):
            shutil.copy(path, cached / path.name)
    files = sorted(cached.glob("samples_*.jsonl"))
    assert len(files) == len(TASKS)
    return files


@pytest.mark.timeout(3600)
def test_real_lm_eval_samples_import_then_score_ti_report(tmp_path, shared_data, capsys):
    from transferlab.models import build_tiny_model

    python = lm_eval_python()
    store = tmp_path / "s.db"
    models = {}
    for name, seed in (("lab/tiny-base", 0), ("lab/tiny-tuned", 1)):  # two different random tiny models
        model = models[name] = build_tiny_model(tmp_path / f"tiny-{seed}", seed=seed)
        for path in run_lm_eval(python, model, shared_data, tmp_path / f"lm-eval-{seed}"):
            benchmark = ["--benchmark", "ifeval"] if "ifeval_local" in path.name else ["--benchmark", "gsm8k"]
            status, _, err = cli(capsys, "import", str(path), "--model", name, "--store", str(store), "--data-dir", str(shared_data), *benchmark)
            assert status == 0, err
            # One completion per document, however many filters lm-eval logged it under.
            assert f"{LM_EVAL_DOCS} completions read (lm-eval" in err and f"{LM_EVAL_DOCS} new in the store" in err
            assert len(path.read_text().splitlines()) == 2 * LM_EVAL_DOCS  # two filters
            status, _, err = cli(capsys, "import", str(path), "--model", name, "--store", str(store), *benchmark)
            assert status == 0 and "0 new in the store" in err
    with Store(store, readonly=True) as s:
        records = s.completions(benchmark="gsm8k")
        raw = {
            json.loads(line)["doc"]["idx"]: json.loads(line)["resps"][0][0]
            for line in sorted(LM_EVAL_CACHE.glob("*/samples_gsm8k_local_*.jsonl"))[0].read_text().splitlines()
        }
        assert {r.item_id for r in records} == {str(i) for i in range(LM_EVAL_DOCS)}
        assert all(s.prompt_text(r.prompt_hash).startswith("Question: ") for r in records)
        assert any(r.text == raw[int(r.item_id)] for r in records)  # the raw generation, not lm-eval's filtered answer
        assert s.gen_settings(records[0].gen_key)["settings"]["generation_kwargs"]["max_gen_toks"] == 8

    assert cli(capsys, "score", "--store", str(store))[0] == 0
    status, out, _ = cli(capsys, "results", "--store", str(store), "--json")
    cells = {(r["model"], r["benchmark"]): r for r in json.loads(out)}
    assert len(cells) == 4 and all(c["items"] == LM_EVAL_DOCS and c["unscored"] == 0 for c in cells.values())
    status, out, err = cli(
        capsys, "ti", "--store", str(store), "--base", "lab/tiny-base", "--tuned", "lab/tiny-tuned", "--json", "--resamples", "200", "--sigma", "math=10,non=10"
    )
    assert status == 0, err
    ti = json.loads(out)
    assert {b["benchmark"] for b in ti["benchmarks"]} == {"gsm8k", "ifeval"}
    spec = tmp_path / "study.yaml"
    spec.write_text(
        "name: lm-eval\nmodels:\n  - {name: base, hf: lab/tiny-base, revision: imported}\n"
        "  - {name: tuned, hf: lab/tiny-tuned, revision: imported, base: base, training: RL}\nbenchmarks: [gsm8k, ifeval]\n"
        "generation: {samples: 1, temperature: 0.0}\nti: {sigma: {math: 10, non: 10}}\n"
    )
    status, _, err = cli(capsys, "report", "--store", str(store), "--spec", str(spec), "--out", str(tmp_path / "report"), "--resamples", "200")
    assert status == 0, err
    assert "ifeval" in (tmp_path / "report" / "report.md").read_text()

    # drift tokens on the imported answers of the tuned model (no generation).
    before = Store(store, readonly=True)
    count = before.count_completions()
    before.close()
    status, _, err = cli(capsys, "drift", "tokens", "--base", str(models["lab/tiny-base"]), "--tuned", str(models["lab/tiny-tuned"]),
                         "--answers-from", "lab/tiny-tuned", "--benchmarks", "gsm8k,ifeval", "--store", str(store), "--out", str(tmp_path / "drift"),
                         "--n", str(LM_EVAL_DOCS), "--dtype", "float32", "--quiet")  # fmt: skip
    assert status == 0, err
    assert "gsm8k: shifted" in err and "ifeval: shifted" in err
    with Store(store, readonly=True) as s:
        assert s.count_completions() == count
