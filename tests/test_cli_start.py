"""The first five minutes: the benchmark list (the real CLI in subprocesses)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli
from transferlab.benchmarks import REGISTRY
from transferlab.groups import BENCHMARK_GROUPS


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
