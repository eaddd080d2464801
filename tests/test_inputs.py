"""Every input checked: one line naming the problem and the fix, exit 2, nothing stored; a read-only
store is read by results, export, ti and report and refused by writing commands; a closed pipe ends
a command quietly. Each case is a real ``transferlab`` process."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli
from synthetic_store import fill_store

NO_MODEL = "/nonexistent/model"  # loading it fails: an error about it means the model came first


def one_line_error(proc, *parts):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    path = tmp_path_factory.mktemp("stored") / "runs.db"
    fill_store(
        path, {"base": {"math500": 40, "gsm8k": 50, "gpqa_diamond": 30, "ifeval": 60}, "tuned": {"math500": 70, "gsm8k": 75, "gpqa_diamond": 40, "ifeval": 55}}
    )
    return path


def latin1_data(tmp_path):
    folder = tmp_path / "data"
    (folder / "gsm8k").mkdir(parents=True)
    (folder / "gsm8k" / "test.jsonl").write_bytes(b'{"question": "1+1?", "answer": "#### 2"}\n{"question": "caf\xe9 costs 3", "answer": "#### 3"}\n')
    return folder


def test_non_utf8_data_is_one_line_before_any_model_and_no_store_is_left(tmp_path):
    data = latin1_data(tmp_path)
    store = tmp_path / "new.db"
    proc = run_cli("eval", "--model", NO_MODEL, "--benchmarks", "gsm8k", "--data-dir", str(data), "--store", str(store))
    one_line_error(proc, f"{data}/gsm8k/test.jsonl is not UTF-8 text (byte 0xe9 at line 2)", "iconv")
    assert list(tmp_path.iterdir()) == [data]
    spec = tmp_path / "study.yaml"
    spec.write_text(
        f"name: s\nmodels: [{{name: b, path: {NO_MODEL}}}, {{name: t, path: {NO_MODEL}, base: b}}]\n"
        f"benchmarks: [gsm8k]\ngeneration: {{max_new_tokens: 8}}\ndata_dir: {data}\n"
    )
    one_line_error(run_cli("study", "run", str(spec), "--store", str(store)), "is not UTF-8 text (byte 0xe9 at line 2)")
    assert not store.exists()


def test_non_utf8_scores_and_spec_files(tmp_path):
    scores = tmp_path / "s.csv"
    scores.write_bytes(b"model,benchmark,score\nb\xe4se,math500,40\n")
    one_line_error(run_cli("ti", "--scores", str(scores), "--base", "b", "--tuned", "t"), f"{scores} is not UTF-8 text (byte 0xe4 at line 2)")
    spec = tmp_path / "spec.yaml"
    spec.write_bytes(b"name: caf\xe9\n")
    one_line_error(run_cli("study", "show", str(spec)), f"{spec} is not UTF-8 text (byte 0xe9 at line 1)")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_temperature_that_is_not_a_number_stores_nothing(stored, tmp_path, value):
    copy = tmp_path / "runs.db"
    shutil.copy(stored, copy)
    before = digest(copy)
    proc = run_cli("eval", "--model", NO_MODEL, "--benchmarks", "gsm8k", "--store", str(copy), f"--temperature={value}")
    one_line_error(proc, f"temperature must be a finite number, got {value}", "use e.g. 0 (greedy)")
    assert digest(copy) == before and sorted(p.name for p in tmp_path.iterdir()) == ["runs.db"]


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("eval", "--model", NO_MODEL, "--benchmarks", "world_arith", "--store", "{tmp}/x.db", "--limit", "0"), "--limit"),
        (("eval", "--model", NO_MODEL, "--benchmarks", "gsm8k", "--store", "{tmp}/x.db", "--limit", "-3"), "--limit"),
        (("study", "run", "configs/tiny.yaml", "--store", "{tmp}/x.db", "--limit", "0"), "--limit"),
        (("world", "sample", "--family", "world_arith", "--n", "0"), "--n"),
        (("sandbox", "run", "{tmp}/p.py", "--timeout", "nan"), "--timeout"),
        (("sandbox", "run", "{tmp}/p.py", "--timeout", "-1"), "--timeout"),
        (("ti", "--store", "{tmp}/x.db", "--base", "a", "--tuned", "b", "--resamples", "0"), "--resamples"),
    ],
)
def test_counts_and_limits_are_checked_where_they_are_parsed(tmp_path, args, option):
    (tmp_path / "p.py").write_text("print('ran')\n")
    proc = run_cli(*(a.format(tmp=tmp_path) for a in args))
    line = one_line_error(proc, f"argument {option}: ", "is not a", "--help")
    assert "ran" not in proc.stdout and sorted(p.name for p in tmp_path.iterdir()) == ["p.py"], line


BAD_SPECS = {
    "temperature: hot": ("generation: {temperature: hot}", "generation: temperature must be a finite number, got 'hot'"),
    "samples as text": ("generation: {samples: '4'}", "generation: samples must be a whole number, got '4'"),
    "stop as a number": ("generation: {stop: 5}", "generation: stop must be a list of strings, got 5"),
    "limit true": ("limit: true", "limit must be a positive integer, got True"),
    "name a list": ("name: [a, b]", "name must be text, got ['a', 'b']"),
    "benchmarks a mapping": ("benchmarks: {gsm8k: 1}", "benchmarks must be a list of names"),
    "batch size text": ("backend: {batch_size: many}", "backend.batch_size must be an integer of at least 1, got 'many'"),
    "timeout nan": ("backend: {request_timeout: .nan}", "backend.request_timeout must be a number of at least 0.001, got nan"),
    "sigma a list": ("ti: {sigma: [1, 2]}", "ti.sigma must map groups to σ in points"),
    "min gain text": ("ti: {min_math_gain: small}", "ti.min_math_gain must be a number of at least 0, got 'small'"),
    "population a number": ("ti: {population: 5}", "ti.population must be a list of tuned model names, got 5"),
    "ddof true": ("ti: {ddof: true}", "ti.ddof must be an integer of at least 0, got True"),
}


@pytest.mark.parametrize("case", list(BAD_SPECS))
def test_a_study_value_of_the_wrong_type_names_the_key_and_the_file(tmp_path, case):
    line, message = BAD_SPECS[case]
    lines = {"name": "name: s", "models": "models: [{name: b, path: b}, {name: t, path: t, base: b}]", "benchmarks": "benchmarks: [gsm8k, gpqa_diamond]"}
    lines[line.split(":", 1)[0]] = line  # the bad value, or a section of its own
    spec = tmp_path / "spec.yaml"
    spec.write_text("\n".join(lines.values()) + "\n")
    for command in (("study", "show", str(spec)), ("study", "run", str(spec), "--store", str(tmp_path / "x.db"))):
        one_line_error(run_cli(*command), f"{spec}: {message}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]


def test_a_failed_score_or_eval_leaves_no_store_behind(tmp_path):
    one_line_error(run_cli("score", "--store", str(tmp_path / "typo.db")), f"no store at {tmp_path}/typo.db")
    proc = run_cli("eval", "--model", NO_MODEL, "--benchmarks", "gsm8k", "--data-dir", "/work/shared/data", "--store", str(tmp_path / "new.db"), "--limit", "2")
    one_line_error(proc, f"model '{NO_MODEL}' not found")
    assert list(tmp_path.iterdir()) == []


def test_a_closed_pipe_ends_results_quietly(stored):
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first byte, as `| head` is after its lines
    try:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        proc = subprocess.run(
            [sys.executable, "-m", "transferlab.cli", "results", "--store", str(stored), "--json"], stdout=write, stderr=subprocess.PIPE, timeout=120, env=env
        )
    finally:
        os.close(write)
    assert proc.stderr.decode() == "" and proc.returncode == 141
    head = subprocess.run(
        f"{sys.executable} -m transferlab.cli results --store {stored} --json | head -n 2", shell=True, capture_output=True, text=True, timeout=120
    )
    assert head.stdout.splitlines()[0] == "[" and head.stderr == ""


# --- a read-only store -----------------------------------------------------------------------------------


def read_only_run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``transferlab ARGS`` with ``folder`` (and the store in it) read-only: for root, a read-only bind
    mount in a private mount namespace (root ignores permission bits); for anyone else, chmod."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [folder, *folder.iterdir()]}
        for p in modes:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            return run_cli(*args)
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
    if not shutil.which("unshare") or subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("root without unshare -m cannot make a read-only folder")
    command = " ".join(map(_quote, [sys.executable, "-m", "transferlab.cli", *args]))
    script = f"mount --bind {_quote(str(folder))} {_quote(str(folder))} && mount -o remount,bind,ro {_quote(str(folder))} && exec {command}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=300, env=env)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def test_a_read_only_store_is_read_and_refused_for_writing(stored, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    store = folder / "runs.db"
    shutil.copy(stored, store)
    before = digest(store)
    out = tmp_path / "out"
    out.mkdir()
    results = read_only_run(folder, "results", "--store", str(store), "--json")
    assert results.returncode == 0 and len(json.loads(results.stdout)) == 8, results.stderr
    exported = read_only_run(folder, "export", "--store", str(store), "--out", str(out / "all.jsonl"))
    assert exported.returncode == 0 and len((out / "all.jsonl").read_text().splitlines()) == 8 * 60, exported.stderr
    ti = read_only_run(folder, "ti", "--store", str(store), "--base", "base", "--tuned", "tuned", "--json", "--resamples", "100")
    assert ti.returncode == 0 and json.loads(ti.stdout)["tuned_model"] == "tuned", ti.stderr
    report = read_only_run(folder, "report", "--store", str(store), "--base", "base", "--tuned", "tuned", "--out", str(out / "r"), "--resamples", "100")
    assert report.returncode == 0 and (out / "r" / "report.md").is_file(), report.stderr
    refused = read_only_run(folder, "score", "--store", str(store))
    one_line_error(refused, f"the store {store} is read-only", "results, export, ti and report read it as it is")
    new = read_only_run(folder, "eval", "--model", NO_MODEL, "--benchmarks", "gsm8k", "--store", str(folder / "new.db"))  # refused before any data
    one_line_error(new, f"the folder {folder} is read-only, so no store can be created there")
    assert digest(store) == before and not (folder / "new.db").exists()


def test_a_read_only_store_file_in_a_writable_folder(stored, tmp_path):
    store = tmp_path / "runs.db"
    shutil.copy(stored, store)
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "+i", str(store)], capture_output=True).returncode != 0:
            pytest.skip("root cannot make a file read-only here (chattr +i is not supported)")
    else:
        store.chmod(0o444)
    try:
        one_line_error(run_cli("score", "--store", str(store)), f"the store {store} is read-only")
        proc = run_cli("results", "--store", str(store), "--json")
        assert proc.returncode == 0 and len(json.loads(proc.stdout)) == 8, proc.stderr
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(store)], check=True)
