"""The registry of the paper's pairs and the two shipped paper specs built from it."""

from __future__ import annotations

from pathlib import Path

import yaml

from transferlab.groups import BENCHMARK_GROUPS, GROUPS
from transferlab.study.paper import AUDIT, CONTROLLED, PAPER_BENCHMARKS, pair_by_name, study_dict
from transferlab.study.spec import load_spec

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_registry_covers_the_paper_pairs_with_hub_ids():
    assert len(AUDIT) >= 20
    names = [p.tuned.name for p in AUDIT]
    assert len(names) == len(set(names))
    for p in AUDIT:
        for m in (p.tuned, p.base):
            org, _, repo = m.hf.partition("/")
            assert org and repo and "/" not in repo, m.hf
        assert p.training in ("RL", "SFT")
    assert set(CONTROLLED) <= set(AUDIT)
    assert {p.base.hf for p in CONTROLLED} == {"Qwen/Qwen3-14B-Base"}
    assert pair_by_name("DeepSeek-R1-Distill-Qwen-7B").base.hf == "Qwen/Qwen2.5-Math-7B"
    assert pair_by_name("UniReason-RL").training == "RL"
    assert [p.training for p in CONTROLLED] == ["RL", "SFT", "SFT"]


def test_paper_benchmarks_cover_every_group():
    assert {BENCHMARK_GROUPS[b] for b in PAPER_BENCHMARKS} == set(GROUPS)
    assert len(PAPER_BENCHMARKS) == 12


def test_shipped_paper_specs_parse_and_match_the_registry():
    audit = load_spec(CONFIGS / "paper-audit.yaml")
    controlled = load_spec(CONFIGS / "paper-controlled.yaml")
    assert sorted(audit.pairs) == sorted((p.tuned.name, p.base.name) for p in AUDIT)
    assert controlled.pairs == [(p.tuned.name, p.base.name) for p in CONTROLLED]
    for spec, pairs in ((audit, AUDIT), (controlled, CONTROLLED)):
        assert spec.benchmarks == PAPER_BENCHMARKS
        assert spec.generation.temperature == 0.7 and spec.generation.max_new_tokens == 32768
        assert spec.generation.prompt_style == "paper"
        hub = {m.name: m.hf for m in spec.models}
        for p in pairs:
            assert hub[p.tuned.name] == p.tuned.hf and hub[p.base.name] == p.base.hf
            assert spec.model(p.tuned.name).training == p.training
    # The YAML files are exactly study_dict of the registry (regenerate them when it changes).
    on_disk = yaml.safe_load((CONFIGS / "paper-controlled.yaml").read_text())
    assert on_disk == study_dict("paper-controlled", CONTROLLED, description=on_disk["description"], samples=4)
    on_disk = yaml.safe_load((CONFIGS / "paper-audit.yaml").read_text())
    assert on_disk == study_dict("paper-audit", AUDIT, description=on_disk["description"], samples=1)
    # The paper's per-benchmark settings (PAPER.md section 1).
    for spec, k in ((audit, 1), (controlled, 4)):
        assert spec.generation_for("aime24").samples == 10 and spec.generation_for("aime25").samples == 10
        assert spec.generation_for("gpqa_diamond").samples == max(3, k) and spec.generation_for("math500").samples == k
        for greedy in ("olympiadbench", "acpbench", "coqa", "ifeval"):
            assert (spec.generation_for(greedy).temperature, spec.generation_for(greedy).samples) == (0.0, 1)
        assert spec.generation_for("math500").temperature == 0.7
