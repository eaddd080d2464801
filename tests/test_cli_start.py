"""The first five minutes: the benchmark list, --help with defaults, --threads, the environment
variables, results in 80 columns, plain progress outside a terminal (the real CLI in subprocesses)."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from conftest import run_cli
from transferlab.benchmarks import REGISTRY
from transferlab.cli import ENVIRONMENT, build_parser
from transferlab.commands.common import all_parsers
from transferlab.groups import BENCHMARK_GROUPS

SRC = Path(__file__).resolve().parents[1] / "src" / "transferlab"


@pytest.mark.timeout(300)
def test_benchmarks_lists_every_registered_benchmark_from_the_registry(shared_data: Path) -> None:
    proc = run_cli("benchmarks", "--json", "--data-dir", str(shared_data))
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert list(rows) == list(REGISTRY)
    for name, row in rows.items():
        b = REGISTRY[name]
        assert row["group"] == BENCHMARK_GROUPS[name] == b.group
        assert row["scorer"] == b.scorer and row["prompt_styles"] == list(b.prompt_styles)
    # counted from the real files (shared/data/README.md gives the rows)
    assert (rows["math500"]["items"], rows["aime24"]["items"], rows["gsm8k"]["items"]) == (500, 30, 1319)
    assert rows["mctaco"]["mode"] == rows["headqa"]["mode"] == "log-likelihood"
    assert rows["mctaco_gen"]["mode"] == rows["math500"]["mode"] == "generation"
    assert rows["world_arith"]["items"] > 0 and rows["world_arith"]["source"].startswith("generated")
    assert rows["livecodebench"]["items"] is None and rows["livecodebench"]["count_note"]  # hub only: said, not guessed
    assert rows["math500"]["source"] == f"hub {REGISTRY['math500'].hf_id}"


def test_benchmarks_table_without_data_says_why_items_are_not_counted() -> None:
    proc = run_cli("benchmarks", env={"TRANSFERLAB_DATA_DIR": "", "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    assert "math500" in proc.stdout and "world_time" in proc.stdout and "log-likelihood" in proc.stdout
    assert "pass --data-dir to count" in proc.stdout


def _options_with_defaults(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        a
        for a in parser._actions
        if a.option_strings and a.default not in (None, False, [], argparse.SUPPRESS) and not isinstance(a, argparse._HelpAction | argparse._VersionAction)
    ]


def test_every_help_of_every_subcommand_shows_the_defaults() -> None:
    parsers = all_parsers(build_parser())
    assert len(parsers) > 20  # every command and sub-command, walked
    checked = 0
    for parser in parsers:
        text = " ".join(parser.format_help().split())
        for action in _options_with_defaults(parser):
            shown = str(action.default)
            said = "default" in (action.help or "")  # a help that states its default in its own words keeps them
            assert f"(default: {shown})" in text or said, f"{parser.prog} {action.option_strings[0]}"
            checked += 1
    assert checked > 50


def test_threads_is_offered_where_torch_runs_and_applied() -> None:
    parser = build_parser()
    with_threads = {p.prog.removeprefix("transferlab ") for p in all_parsers(parser) if any("--threads" in a.option_strings for a in p._actions)}
    assert {"eval", "study run", "drift latent", "drift tokens", "train sft", "train grpo", "demo", "distill"} <= with_threads
    code = "import torch, transferlab.cli as c; import sys; a = c.build_parser().parse_args(['eval', '--model', 'x', '--benchmarks', 'gsm8k', '--store', 's', '--threads', '3']); c.apply_process_options(a); print(torch.get_num_threads(), torch.get_num_interop_threads())"
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout.split()
    assert out == ["3", "3"]
    proc = run_cli("eval", "--model", "x", "--benchmarks", "gsm8k", "--store", "s.db", "--threads", "0")
    assert proc.returncode == 2 and "argument --threads: '0' is not a whole number of at least 1" in proc.stderr


def test_the_top_help_documents_every_environment_variable_the_source_reads() -> None:
    read = set()
    for path in SRC.rglob("*.py"):
        read |= set(re.findall(r'"((?:TRANSFERLAB|OPENAI)_[A-Z_]+)"', path.read_text(encoding="utf-8")))
    documented = {name for name, _ in ENVIRONMENT}
    assert read and read <= documented, sorted(read - documented)
    proc = run_cli("--help", env={"COLUMNS": "100"})
    assert proc.returncode == 0
    for name in documented:
        assert name in proc.stdout


# -- one real eval of the tiny model, piped (not a terminal): progress lines, then the results views --


@pytest.fixture(scope="module")
def tiny_eval(tiny_model: Path, shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A store holding the tiny model on a math, an other and a non benchmark; the eval's stderr."""
    store = tmp_path_factory.mktemp("results") / "runs.db"
    args = ["--model", str(tiny_model), "--benchmarks", "gsm8k,headqa,mctaco", "--store", str(store), "--limit", "3"]
    proc = run_cli("eval", *args, "--max-new-tokens", "8", "--data-dir", str(shared_data), "--threads", "1", env={"TRANSFERLAB_PROGRESS_SECONDS": "0"})
    assert proc.returncode == 0, proc.stderr
    return store, proc.stderr


PLAIN = re.compile(r"^(completions|answers) (score )?(\w+): (\d+)/(\d+) \(\d+%\), ([\d.]+|-) \1/s, (ETA \S+|done in \S+|all done already)$")


@pytest.mark.timeout(600)
def test_outside_a_terminal_progress_prints_plain_periodic_lines(tiny_eval: tuple[Path, str]) -> None:
    _, stderr = tiny_eval
    lines = [m for m in map(PLAIN.match, stderr.splitlines()) if m]
    gen = [m for m in lines if m.group(1) == "completions"]
    assert {m.group(3) for m in gen} == {"gsm8k", "headqa", "mctaco"}
    assert all(m.group(5) == "3" for m in gen)
    assert any(m.group(7).startswith("ETA") for m in gen)  # periodic lines while running (interval 0 here)
    assert {m.group(3) for m in gen if m.group(7).startswith("done in")} == {"gsm8k", "headqa", "mctaco"}  # and one when done
    assert any(m.group(1) == "answers" and m.group(3) == "gsm8k" for m in lines)
    assert "━" not in stderr and "\r" not in stderr  # no live bar in a log file


@pytest.mark.timeout(600)
def test_results_fits_80_columns_with_a_group_view_by_default(tiny_eval: tuple[Path, str]) -> None:
    store, _ = tiny_eval
    narrow = run_cli("results", "--store", str(store), env={"COLUMNS": "80"})
    assert narrow.returncode == 0, narrow.stderr
    assert all(len(line) <= 80 for line in narrow.stdout.splitlines()), narrow.stdout
    assert "mean accuracy (%) per group" in narrow.stdout and "mean %" in narrow.stdout
    assert {"math", "other", "non"} <= set(narrow.stdout.split())
    cells = run_cli("results", "--store", str(store), "--view", "cells", env={"COLUMNS": "80"})
    assert cells.returncode == 0 and all(len(line) <= 80 for line in cells.stdout.splitlines()), cells.stdout
    assert "headqa" in cells.stdout
    wide = run_cli("results", "--store", str(store), env={"COLUMNS": "160"})
    assert "95% CI" in wide.stdout  # a wide terminal shows every cell


@pytest.mark.timeout(600)
def test_results_formats_csv_json_markdown_agree(tiny_eval: tuple[Path, str]) -> None:
    import csv
    import io

    store, _ = tiny_eval
    out = {fmt: run_cli("results", "--store", str(store), "--view", "groups", "--format", fmt).stdout for fmt in ("csv", "json", "markdown")}
    rows = list(csv.DictReader(io.StringIO(out["csv"])))
    records = json.loads(out["json"])
    assert [r["group"] for r in rows] == [r["group"] for r in records] == ["math", "other", "non"]
    for r, j in zip(rows, records, strict=True):
        assert float(r["accuracy"]) == pytest.approx(j["accuracy"], abs=1e-3)
        assert int(r["benchmarks"]) == j["benchmarks"] == 1 and int(r["items"]) == j["items"] == 3
    md = out["markdown"].splitlines()
    assert md[0].startswith("| model | group | bench | items | mean % |") and len(md) == 2 + len(records)
    cells = json.loads(run_cli("results", "--store", str(store), "--json").stdout)  # --json: every cell, as before
    assert sorted(c["benchmark"] for c in cells) == ["gsm8k", "headqa", "mctaco"] and "ci_low" in cells[0]
    assert "trunc %" in run_cli("results", "--help", env={"COLUMNS": "120"}).stdout  # the columns explained


def test_quiet_silences_third_party_logs_bars_and_warnings() -> None:
    import subprocess
    import sys

    code = (
        "import transferlab.cli as c\n"
        "a = c.build_parser().parse_args(['eval', '--model', 'x', '--benchmarks', 'gsm8k', '--store', 's', '--quiet'])\n"
        "c.apply_process_options(a)\n"
        "import tqdm, warnings, transformers, datasets\n"
        "list(tqdm.tqdm(range(3)))\n"
        "transformers.logging.get_logger('transformers.generation').warning('a loud library warning')\n"
        "warnings.warn('a loud FutureWarning', FutureWarning)\n"
        "assert not datasets.utils.logging.is_progress_bar_enabled()\n"
    )
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    loud = subprocess.run([sys.executable, "-c", code.replace(", '--quiet'", "").replace("assert not", "assert")], capture_output=True, text=True, timeout=180)
    assert "a loud library warning" in loud.stderr and "a loud FutureWarning" in loud.stderr and "3/3" in loud.stderr
