"""Study specs (parsing, one-line errors, the shipped tiny spec) and a whole tiny study end to end."""

from __future__ import annotations

import argparse
import copy
import json
import shutil
from pathlib import Path

import pytest
import yaml

from transferlab.commands import report as report_command
from transferlab.commands import study as study_command
from transferlab.commands import ti as ti_command
from transferlab.errors import ConfigError, DataError
from transferlab.pipeline.results import results
from transferlab.store import Store
from transferlab.study.run import stored_model_keys, stored_studies
from transferlab.study.spec import load_spec, parse_spec

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

GOOD = {
    "name": "s",
    "models": [{"name": "b", "hf": "org/base"}, {"name": "t", "hf": "org/tuned", "base": "b", "training": "rl", "thinking_parser": "think-end"}],
    "benchmarks": ["math500", "aime24", "aime25"],
    "groups": {"aime25": "non"},
    "generation": {"temperature": 0.6, "max_new_tokens": 128, "samples": 2},
    "ti": {"version": "v1", "sigma": {"math": 3.5}, "population": ["t"]},
}


def test_a_benchmark_can_have_its_own_generation_settings():
    spec = parse_spec({**GOOD, "generation_overrides": {"aime24": {"samples": 10}, "aime25": {"samples": 10}, "math500": {"temperature": 0.0}}})
    assert spec.generation_for("aime24").samples == 10 and spec.generation_for("aime24").temperature == 0.6
    assert spec.generation_for("math500").temperature == 0.0 and spec.generation_for("math500").samples == 2
    groups = spec.generation_groups()
    assert [names for _, names in groups] == [["math500"], ["aime24", "aime25"]]
    assert parse_spec(json.loads(json.dumps(spec.to_dict()))) == spec
    assert parse_spec(GOOD).generation_groups() == [(parse_spec(GOOD).generation, ["math500", "aime24", "aime25"])]
    for overrides, words in (
        ({"gsm8k": {"samples": 1}}, "'gsm8k', which is not one of the study's benchmarks"),
        ({"aime24": {"temperatur": 1}}, "unknown setting(s) temperatur"),
        ({"aime24": {"samples": 0}}, "bad generation_overrides.aime24"),
        ({"aime24": {}}, "non-empty mapping"),
    ):
        with pytest.raises(ConfigError) as err:
            parse_spec({**GOOD, "generation_overrides": overrides})
        assert words in str(err.value) and "\n" not in str(err.value)


def test_good_spec_parses_with_defaults_and_overrides():
    spec = parse_spec(GOOD)
    assert spec.pairs == [("t", "b")]
    assert spec.model("t").training == "RL" and spec.model("b").training == "base"
    assert spec.model("t").thinking_parser == "think-end" and spec.model("b").thinking_parser is None  # a parser per model
    assert spec.resolved_groups() == {"math500": "math", "aime24": "math", "aime25": "non"}
    assert spec.generation.temperature == 0.6 and spec.generation.samples == 2
    assert spec.ti.version == "v1" and spec.ti.sigma == {"math": 3.5} and spec.ti.population == ("t",)
    assert parse_spec(json.loads(json.dumps(spec.to_dict()))) == spec  # the store keeps it as JSON


def broken(path, value):
    data = copy.deepcopy(GOOD)
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    "data, words",
    [
        (broken(["models"], None), "'models' is missing"),
        (broken(["extra"], 1), "unknown key(s) extra"),
        (broken(["benchmarks"], ["math500", "nope"]), "unknown benchmark(s) nope"),
        (broken(["benchmarks"], ["aime24", "aime24"]), "listed twice"),
        (broken(["groups"], {"aime25": "social"}), "group 'social'"),
        (broken(["groups"], {"gsm8k": "non"}), "not among the benchmarks"),
        (broken(["groups"], {"math500": "other", "aime24": "non", "aime25": "non"}), "no math benchmark"),
        (broken(["models", 1, "base"], "ghost"), "names base 'ghost'"),
        (broken(["models", 1, "training"], "dpo"), "training 'dpo'"),
        (broken(["models", 1, "thinking_parser"], "xml"), "thinking_parser 'xml'"),
        (broken(["models", 1, "path"], "/x"), "exactly one of hf:"),
        (broken(["models", 0, "hf"], "not-a-hub-id"), "not a hub id"),
        (broken(["models", 1, "name"], "b"), "appear twice"),
        (broken(["models"], [{"name": "b", "hf": "o/b"}]), "no model names a base"),
        (broken(["generation", "temperatur"], 0.1), "unknown generation setting(s): temperatur"),
        (broken(["generation", "samples"], 0), "samples must be at least 1"),
        (broken(["ti", "sigma"], {"math": -1}), "not a positive σ"),
        (broken(["ti", "population"], ["b"]), "not tuned models"),
        (broken(["ti", "version"], "v3"), "unknown TI version"),
        ("just text", "must be a mapping"),
    ],
)
def test_invalid_specs_give_one_line_errors(data, words):
    with pytest.raises(ConfigError) as err:
        parse_spec(data)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_bad_yaml_names_the_line(tmp_path):
    (tmp_path / "x.yaml").write_text("name: x\nmodels: [\n  - oops: : :\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_spec(tmp_path / "x.yaml")


def test_shipped_tiny_spec_parses_with_paths_relative_to_it():
    spec = load_spec(CONFIGS / "tiny.yaml")
    assert spec.model("tiny-rl").path == str((CONFIGS / "tiny-models" / "tiny-rl").resolve())
    assert spec.data_dir == str((CONFIGS / "../../shared/data").resolve())
    assert spec.resolved_groups() == {"math500": "math", "gsm8k": "math", "aime24": "other", "aime25": "non"}
    assert [t for t, _ in spec.pairs] == ["tiny-rl", "tiny-sft"]


def cli(module, *argv):
    parser = argparse.ArgumentParser(prog="transferlab")
    module.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return args.func(args)


def perturbed_copy(src: Path, dst: Path, seed: int) -> Path:
    """A copy of a tiny model with every weight nudged: another model (another fingerprint), same tokenizer."""
    import torch
    from safetensors.torch import load_file, save_file

    shutil.copytree(src, dst)
    gen = torch.Generator().manual_seed(seed)
    for f in dst.glob("*.safetensors"):
        tensors = load_file(f)
        save_file({k: v + 0.05 * torch.randn(v.shape, generator=gen) for k, v in tensors.items()}, f, metadata={"format": "pt"})
    return dst


@pytest.fixture(scope="module")
def tiny_study(tiny_model, tmp_path_factory):
    """configs/tiny.yaml copied beside three tiny models: the base and two perturbed copies (RL, SFT)."""
    root = tmp_path_factory.mktemp("study")
    shutil.copytree(tiny_model, root / "tiny-models" / "tiny-base")
    perturbed_copy(tiny_model, root / "tiny-models" / "tiny-rl", seed=1)
    perturbed_copy(tiny_model, root / "tiny-models" / "tiny-sft", seed=2)
    spec = yaml.safe_load((CONFIGS / "tiny.yaml").read_text())
    spec["models"][2]["thinking_parser"] = "none"  # tiny-sft's completions are split with their own parser
    (root / "tiny.yaml").write_text(yaml.safe_dump(spec))
    return root


@pytest.mark.slow
def test_tiny_study_end_to_end(tiny_study, shared_data, tmp_path, capsys):
    spec_path, store_path = tiny_study / "tiny.yaml", tmp_path / "runs.db"
    run = ["study", "run", str(spec_path), "--store", str(store_path), "--data-dir", str(shared_data), "--limit", "3", "--quiet"]
    assert cli(study_command, *run) == 0
    with Store(store_path, readonly=True) as store:
        keys = stored_model_keys(store, "tiny")
        assert sorted(keys) == ["tiny-base", "tiny-rl", "tiny-sft"] and len(set(keys.values())) == 3
        assert list(stored_studies(store)) == ["tiny"]
        # every model x benchmark x item x sample, all scored; GSM8K greedily, one sample (its override)
        assert store.count_completions() == 3 * (3 * 3 * 2 + 3 * 1)
        assert all(r["scorer"] is not None for r in store.rows())
        parsers = {name: {r["details"]["thinking_parser"] for r in store.rows(model_key=key)} for name, key in keys.items()}
        assert parsers == {"tiny-base": {"think"}, "tiny-rl": {"think"}, "tiny-sft": {"none"}}
        shown = {(r.model, r.thinking_parser) for r in results(store)}
        assert shown == {(keys["tiny-base"], "think"), (keys["tiny-rl"], "think"), (keys["tiny-sft"], "none")}
        for benchmark, temperature, samples in (("gsm8k", 0.0, {0}), ("math500", 0.8, {0, 1})):
            rows = [r for r in store.rows() if r["benchmark"] == benchmark]
            assert {store.gen_settings(r["gen_key"])["temperature"] for r in rows} == {temperature}
            assert {r["sample_index"] for r in rows} == samples

    # Running again generates nothing.
    capsys.readouterr()
    assert cli(study_command, *run, "--only", "tiny-rl") == 0
    assert "21 completions asked, 21 already stored, 0 generated" in capsys.readouterr().err

    # Other settings for the same models and benchmarks are refused before any model is loaded.
    other = yaml.safe_load(spec_path.read_text())
    other["generation_overrides"]["gsm8k"]["temperature"] = 0.3
    other_path = tiny_study / "tiny-hot.yaml"
    other_path.write_text(yaml.safe_dump(other))
    with pytest.raises(ConfigError, match="other settings.*temperature.*allow-mixed-settings"):
        cli(study_command, "study", "run", str(other_path), "--store", str(store_path), "--data-dir", str(shared_data), "--quiet")

    # TI from the per-item scores. Random models score 0 everywhere: σ is 0 and the math gain is 0,
    # and both are said in one line, not printed as huge numbers.
    ti = ["ti", "--store", str(store_path), "--base", "tiny-base", "--tuned", "tiny-rl", "--resamples", "200"]
    with pytest.raises(DataError, match="σ for group .* is 0"):
        cli(ti_command, *ti)
    capsys.readouterr()
    assert cli(ti_command, *ti, "--sigma", "math=5,other=5,non=5") == 0
    out = capsys.readouterr().out
    assert "TI v2: tiny-rl vs base tiny-base" in out and "status: math gain ≈ 0: TI undefined" in out

    out_dir = tmp_path / "report"
    assert cli(report_command, "report", "--store", str(store_path), "--out", str(out_dir), "--resamples", "200") == 0
    page = (out_dir / "index.html").read_text()
    assert page.count("<table>") >= 5 and page.count('src="data:image/png;base64,') == 4
    md = (out_dir / "report.md").read_text()
    assert "| tiny-rl | tiny-base | RL |" in md and "tiny-sft" in md and "Truncation and length" in md
    # GSM8K's own settings are the study's for GSM8K: read, and not reported as a difference.
    assert "gsm8k" in md and "not used here" not in md and "gsm8k: 3 completions, none scored" not in md
    assert "Not drawn (TI undefined): tiny-rl, tiny-sft." in page
    for f in (out_dir / "figures").glob("*.png"):
        assert f.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_served_and_vllm_backends_in_a_spec():
    import copy

    from transferlab.errors import ConfigError, TransferlabError
    from transferlab.study.run import study_backend

    data = copy.deepcopy(GOOD)
    data["backend"] = {"kind": "openai", "api": "completions", "concurrency": 4}
    data["models"][0]["endpoints"] = ["http://127.0.0.1:9/v1", "http://127.0.0.1:10/v1"]
    spec = parse_spec(data)
    assert spec.backend.api == "completions" and spec.models[0].endpoints == ("http://127.0.0.1:9/v1", "http://127.0.0.1:10/v1")
    assert parse_spec(json.loads(json.dumps(spec.to_dict()))) == spec
    with pytest.raises(ConfigError, match="no endpoints"):
        study_backend(spec.models[1], spec.backend)
    data["models"][0]["endpoints"] = "http://127.0.0.1:9/v1"
    with pytest.raises(ConfigError, match="not a list of URLs"):
        parse_spec(data)
    data["models"][0].pop("endpoints")
    data["backend"] = {"kind": "vllm", "tensor_parallel": 2}
    spec = parse_spec(data)
    assert spec.backend.tensor_parallel == 2
    try:
        import vllm  # noqa: F401 - only whether it is installed
    except ImportError:
        with pytest.raises(TransferlabError, match="vllm"):
            study_backend(spec.models[0], spec.backend)
