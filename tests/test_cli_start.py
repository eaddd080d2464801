"""The first five minutes: the benchmark list, --help with defaults, --threads, the environment
variables (the real CLI in subprocesses)."""

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
    assert proc.returncode == 2 and "--threads must be 1 or more" in proc.stderr


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
