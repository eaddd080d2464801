"""Benchmarks of your own in YAML (tests/data/custom: one per scorer kind): right and wrong answers
graded by each kind's real scorer, then every kind end to end with the tiny model (eval, score,
results), the store keyed by the definition's hash, and bad definitions refused in one line."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from transferlab import sandbox
from transferlab.benchmarks.custom import load_definitions
from transferlab.cli import main
from transferlab.errors import TransferlabError
from transferlab.store import Store

CUSTOM = Path(__file__).parent / "data" / "custom"

try:
    sandbox.check_available()
    NO_SANDBOX = ""
except TransferlabError as err:  # pragma: no cover - depends on the machine
    if os.environ.get("CI"):
        raise
    NO_SANDBOX = str(err)

# name -> (right answers, wrong answers), by item id; the loglikelihood kind is checked on the tiny model's scores.
ANSWERS: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "tiny_math": ({"m1": "7 * 6 = 42, so \\boxed{42}.", "m2": "\\boxed{0.75}"}, {"m1": "\\boxed{43}", "m2": "\\boxed{\\frac{1}{4}}"}),
    "tiny_exact": ({"fr": "Paris", "jp": " Tokyo\n", "pe": "Lima"}, {"fr": "paris", "jp": "Kyoto", "pe": "Lima, Peru"}),
    "tiny_normalized": ({"fr": "paris.", "jp": "The Tokyo", "pe": "LIMA"}, {"fr": "Lyon", "jp": "Osaka", "pe": "Cusco"}),
    "tiny_mc": (
        {"q1": "Jupiter is largest. The answer is (B).", "q2": "\\boxed{C}", "q3": "Answer: A"},
        {"q1": "Answer: A", "q2": "\\boxed{A}", "q3": "nothing"},
    ),
    "tiny_regex": (
        {"fr": "It is Paris.\nANSWER: Paris", "jp": "ANSWER: tokyo", "pe": "ANSWER: Lima"},
        {"fr": "ANSWER: Nice", "jp": "Tokyo", "pe": "ANSWER: Quito"},
    ),
    "tiny_numeric": ({"0": "About 3.14", "1": "It is 1.41."}, {"0": "3.2", "1": "2"}),
    "tiny_ifeval": ({"1": "Tea is calm and warm.", "2": "rain falls softly on the roof."}, {"1": "Tea, warm and calm.", "2": "Rain Falls."}),
    "tiny_code": (
        {
            "add": "```python\na, b = map(int, input().split())\nprint(a + b)\n```",
            "sq": "Here:\n```python\ndef square(x):\n    return x * x\n```",
        },
        {"add": "```python\na, b = map(int, input().split())\nprint(a - b)\n```", "sq": "```python\ndef square(x):\n    return x + x\n```"},
    ),
}


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out = capsys.readouterr()
    return status, out.out, out.err


def results_by(store: Path, capsys: pytest.CaptureFixture[str]) -> dict[tuple[str, str], dict]:
    status, out, err = cli(capsys, "results", "--store", str(store), "--json")
    assert status == 0, err
    return {(r["model"], r["benchmark"].split("@")[0]): r for r in json.loads(out)}


def test_every_scorer_kind_grades_right_and_wrong_answers(tmp_path, capsys):
    benchmarks = {b.definition["name"]: b for b in load_definitions(str(CUSTOM))}
    assert set(benchmarks) == {*ANSWERS, "tiny_loglik"}
    kinds = {b.kind for b in benchmarks.values()}
    assert kinds == {"math", "exact", "normalized", "multiple_choice", "loglikelihood_choice", "regex", "numeric", "ifeval", "code"}
    names = [n for n in ANSWERS if n != "tiny_code" or not NO_SANDBOX]
    rows = []
    for name in names:
        prompts = {i.id: benchmarks[name].messages(i)[-1]["content"] for i in benchmarks[name].load()}
        for model, answers in zip(("right", "wrong"), ANSWERS[name]):
            rows += [{"model": model, "benchmark": name, "item_id": i, "prompt": prompts[i], "response": a} for i, a in answers.items()]
    # A group of your own: shown by results, left out of TI.
    (tmp_path / "trivia.yaml").write_text((CUSTOM / "exact.yaml").read_text().replace("tiny_exact", "tiny_trivia").replace("group: other", "group: trivia"))
    (tmp_path / "capitals.csv").write_text((CUSTOM / "capitals.csv").read_text())
    rows += [{**r, "benchmark": "tiny_trivia"} for r in rows if r["benchmark"] == "tiny_exact"]
    source = tmp_path / "answers.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    store = tmp_path / "s.db"
    status, _, err = cli(capsys, "import", str(source), "--store", str(store), "--benchmarks", f"{CUSTOM},{tmp_path / 'trivia.yaml'}")
    assert status == 0, err
    assert cli(capsys, "score", "--store", str(store))[0] == 0
    status, _, err = cli(capsys, "score", "--store", str(store), "--benchmarks", str(CUSTOM / "exact.yaml"))  # a YAML file names its stored benchmark
    assert status == 0 and "scored 6 completions" in err
    cells = results_by(store, capsys)
    for name in names:
        assert cells[("right@imported", name)]["accuracy"] == 100.0, name
        assert cells[("wrong@imported", name)]["accuracy"] == 0.0, name
        assert cells[("right@imported", name)]["group"] == benchmarks[name].group
    assert cells[("right@imported", "tiny_trivia")]["group"] == "trivia" and cells[("right@imported", "tiny_trivia")]["accuracy"] == 100.0
    with Store(store, readonly=True) as s:
        stored = s.benchmark_definitions()
    assert {benchmarks[n].name for n in names} | {load_definitions(str(tmp_path / "trivia.yaml"))[0].name} == set(stored)  # name@hash, with its definition

    # TI from the store: each benchmark of your own in its group.
    status, out, err = cli(
        capsys, "ti", "--store", str(store), "--base", "wrong", "--tuned", "right", "--json", "--resamples", "100", "--sigma", "math=10,other=10,non=10"
    )
    assert status == 0, err
    ti = json.loads(out)
    in_ti = {b["benchmark"].split("@")[0]: (b["group"], b["delta"]) for b in ti["benchmarks"]}
    assert in_ti == {n: (benchmarks[n].group, 100.0) for n in names}


def test_study_specs_take_yaml_benchmarks(tmp_path):
    from transferlab.study.spec import load_spec, parse_spec

    shutil.copytree(CUSTOM, tmp_path / "tasks")
    (tmp_path / "study.yaml").write_text(
        "name: own\nmodels:\n  - {name: a, hf: org/a}\n  - {name: b, hf: org/b, base: a, training: SFT}\n"
        "benchmarks: [gsm8k, tasks/exact.yaml, tasks/normalized.yaml]\ngeneration: {samples: 1}\n"
    )
    spec = load_spec(tmp_path / "study.yaml")
    exact, normalized = (load_definitions(str(tmp_path / "tasks" / f))[0] for f in ("exact.yaml", "normalized.yaml"))
    assert spec.benchmarks == ("gsm8k", exact.name, normalized.name)
    assert spec.resolved_groups() == {"gsm8k": "math", exact.name: "other", normalized.name: "non"}
    assert spec.benchmark(exact.name).messages(exact.load()[0]) == exact.messages(exact.load()[0])
    again = parse_spec(spec.to_dict())  # as a store keeps it: absolute paths
    assert again.benchmarks == spec.benchmarks and again.resolved_groups() == spec.resolved_groups()
    (tmp_path / "tasks" / "exact.yaml").write_text((CUSTOM / "exact.yaml").read_text().replace("group: other", "group: trivia"))
    with pytest.raises(TransferlabError, match="a study's benchmarks need one of math, other, non"):
        load_spec(tmp_path / "study.yaml")


@pytest.mark.timeout(900)
def test_every_kind_end_to_end_with_the_tiny_model(tiny_model, tmp_path, capsys):
    store = tmp_path / "s.db"
    skip = ["code.yaml"] if NO_SANDBOX else []
    folder = tmp_path / "custom"
    shutil.copytree(CUSTOM, folder, ignore=shutil.ignore_patterns(*skip))
    argv = ["eval", "--model", str(tiny_model), "--benchmarks", str(folder), "--store", str(store), "--max-new-tokens", "6", "--quiet", "--dtype", "float32"]
    status, _, err = cli(capsys, *argv)
    assert status == 0, err
    cells = results_by(store, capsys)
    expected = {b.definition["name"]: b for b in load_definitions(str(folder))}
    model = next(iter({m for m, _ in cells}))
    for name, bench in expected.items():
        cell = cells[(model, name)]
        assert cell["unscored"] == 0 and cell["items"] == len(bench.load()) and cell["group"] == bench.group, name
    # Log-likelihood choice: the verdict is the argmax of the stored option log-probabilities.
    loglik = expected["tiny_loglik"]
    gold = {i.id: i.reference for i in loglik.load()}
    with Store(store, readonly=True) as s:
        rows = [r for r in s.rows(benchmark=loglik.name) if r["scorer"] == loglik.scorer]
    assert len(rows) == 3
    for r in rows:
        logprob = json.loads(r["text"])["logprob"]
        assert r["score"] == float(max(range(len(logprob)), key=logprob.__getitem__) == gold[r["item_id"]])
    # Again: everything is stored, nothing is generated.
    status, _, err = cli(capsys, *argv)
    assert status == 0 and "0 generated" in err

    # An edited data file is a new benchmark: old and new completions never mix.
    (folder / "capitals.csv").write_text("id,country,capital\nfr,France,Paris\nit,Italy,Rome\n")
    edited = {b.definition["name"]: b.name for b in load_definitions(str(folder))}
    assert edited["tiny_exact"] != expected["tiny_exact"].name and edited["tiny_math"] == expected["tiny_math"].name
    status, _, err = cli(
        capsys,
        "eval",
        "--model",
        str(tiny_model),
        "--benchmarks",
        str(folder / "exact.yaml"),
        "--store",
        str(store),
        "--max-new-tokens",
        "6",
        "--quiet",
        "--dtype",
        "float32",
    )
    assert status == 0, err
    status, out, _ = cli(capsys, "results", "--store", str(store), "--json")
    items = {r["benchmark"]: r["items"] for r in json.loads(out)}
    assert items[expected["tiny_exact"].name] == 3 and items[edited["tiny_exact"]] == 2


def test_parquet_data_and_bad_definitions(tmp_path, capsys):
    import pandas as pd

    pd.read_csv(CUSTOM / "capitals.csv").to_parquet(tmp_path / "capitals.parquet")
    (tmp_path / "p.yaml").write_text((CUSTOM / "exact.yaml").read_text().replace("capitals.csv", "capitals.parquet"))
    [bench] = load_definitions(str(tmp_path / "p.yaml"))
    assert [(i.id, i.reference) for i in bench.load()] == [("fr", "Paris"), ("jp", "Tokyo"), ("pe", "Lima")]
    assert bench.messages(bench.load()[1]) == [{"role": "user", "content": "What is the capital of Japan? Answer with the name only."}]

    good = (CUSTOM / "exact.yaml").read_text()
    cases = {
        "unknown scorer 'fuzzy'": good.replace("scorer: exact", "scorer: fuzzy"),
        "unknown key(s) promt": good.replace("prompt:", "promt:"),
        "the prompt template does not parse": good.replace("{{ country }}", "{{ country "),
        "mode loglikelihood does not go with scorer exact": good + "mode: loglikelihood\n",
        "data file": good.replace("capitals.csv", "missing.csv"),
        "tolerance and relative_tolerance must be numbers": good.replace("scorer: exact", "scorer: {kind: numeric, tolerance: small}"),
    }
    for problem, text in cases.items():
        (tmp_path / "capitals.csv").write_text((CUSTOM / "capitals.csv").read_text())
        (tmp_path / "bad.yaml").write_text(text)
        status, _, err = cli(capsys, "eval", "--model", "unused", "--benchmarks", str(tmp_path / "bad.yaml"), "--store", str(tmp_path / "s.db"))
        assert status == 2 and problem in err and len(err.strip().splitlines()) == 1, err
    (tmp_path / "bad.yaml").write_text(good.replace("{{ country }}", "{{ nation }}"))
    [bench] = load_definitions(str(tmp_path / "bad.yaml"))
    with pytest.raises(TransferlabError, match="uses a field the data lacks"):
        bench.messages(bench.load()[0])


def test_hub_data_through_datasets(tmp_path, monkeypatch):
    """``data: {hub: ...}`` goes through datasets.load_dataset, as for a hub id; here a local dataset folder."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    (tmp_path / "ds").mkdir()
    shutil.copy(CUSTOM / "mc.jsonl", tmp_path / "ds" / "test.jsonl")
    (tmp_path / "hub.yaml").write_text((CUSTOM / "mc.yaml").read_text().replace("data: {path: mc.jsonl}", f"data: {{hub: {tmp_path / 'ds'}, split: test}}"))
    [bench] = load_definitions(str(tmp_path / "hub.yaml"))
    local = load_definitions(str(CUSTOM / "mc.yaml"))[0]
    assert [(i.id, i.reference) for i in bench.load()] == [(i.id, i.reference) for i in local.load()] == [("q1", "B"), ("q2", "C"), ("q3", "A")]
    assert bench.name != local.name and bench.hf_id == str(tmp_path / "ds")
