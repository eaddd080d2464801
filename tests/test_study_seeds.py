"""A study spec repeats a training over seeds: the compact ``seeds:`` form and the explicit one read
into the same models, survive the round trip through the store's record, and bad ones are one line."""

from __future__ import annotations

import pytest

from transferlab.errors import ConfigError
from transferlab.study.spec import parse_spec


def spec(*models, **extra):
    return {
        "name": "s",
        "models": [{"name": "base", "path": "/m/base"}, *models],
        "benchmarks": ["math500", "gpqa_diamond", "ifeval"],
        "generation": {"max_new_tokens": 8},
        **extra,
    }


def test_seeds_expand_into_one_tuned_model_per_seed_and_round_trip():
    s = parse_spec(spec({"name": "sft", "base": "base", "training": "SFT", "seeds": {0: "/m/sft", 1: "/m/sft-1", "2": {"hf": "org/sft-2", "revision": "abc"}}}))
    assert [m.name for m in s.models] == ["base", "sft-seed0", "sft-seed1", "sft-seed2"]
    assert [(m.seed_group, m.seed, m.base, m.training) for m in s.models[1:]] == [("sft", k, "base", "SFT") for k in (0, 1, 2)]
    assert (s.models[1].path, s.models[3].hf, s.models[3].revision) == ("/m/sft", "org/sft-2", "abc")
    assert list(s.seed_groups) == ["sft"] and [m.name for m in s.seed_groups["sft"]] == ["sft-seed0", "sft-seed1", "sft-seed2"]
    assert s.pairs == [("sft-seed0", "base"), ("sft-seed1", "base"), ("sft-seed2", "base")]
    again = parse_spec(s.to_dict())  # the form a store keeps: one explicit entry per seed
    assert again.models == s.models and again.seed_groups == s.seed_groups


def test_the_explicit_form_is_the_same_and_a_plain_study_has_no_seed_group():
    explicit = parse_spec(
        spec(
            {"name": "a", "path": "/m/a", "base": "base", "training": "RL", "seed_group": "rl", "seed": 3},
            {"name": "b", "path": "/m/b", "base": "base", "training": "RL", "seed_group": "rl", "seed": 4},
        )
    )
    assert [(m.name, m.seed) for m in explicit.seed_groups["rl"]] == [("a", 3), ("b", 4)]
    assert parse_spec(spec({"name": "t", "path": "/m/t", "base": "base"})).seed_groups == {}


@pytest.mark.parametrize(
    ("model", "words"),
    [
        ({"name": "sft", "base": "base", "seeds": {0: "/a"}, "path": "/b"}, "has seeds and path"),
        ({"name": "sft", "base": "base", "seeds": []}, "seeds must map each seed"),
        ({"name": "sft", "base": "base", "seeds": {"x": "/a"}}, "not a whole number"),
        ({"name": "sft", "base": "base", "seeds": {-1: "/a"}}, "not a whole number"),
        ({"name": "sft", "base": "base", "seeds": {0: 5}}, "not a path or a mapping"),
        ({"base": "base", "seeds": {0: "/a"}}, "needs a name"),
        ({"name": "a", "path": "/a", "base": "base", "seed_group": "g"}, "both seed_group and seed"),
        ({"name": "a", "path": "/a", "seed_group": "g", "seed": 0}, "without a base"),
    ],
)
def test_bad_seeds_are_one_line_errors(model, words):
    with pytest.raises(ConfigError, match=words) as err:
        parse_spec(spec(model, {"name": "t", "path": "/m/t", "base": "base"}))
    assert "\n" not in str(err.value)


def test_a_seed_group_shares_its_base_and_training_and_each_seed_is_its_own():
    other_base = {"name": "base2", "path": "/m/base2"}
    with pytest.raises(ConfigError, match="mixes base"):
        parse_spec(
            spec(
                other_base,
                {"name": "a", "path": "/a", "base": "base", "seed_group": "g", "seed": 0},
                {"name": "b", "path": "/b", "base": "base2", "seed_group": "g", "seed": 1},
            )
        )
    with pytest.raises(ConfigError, match="mixes training"):
        parse_spec(
            spec(
                {"name": "a", "path": "/a", "base": "base", "training": "SFT", "seed_group": "g", "seed": 0},
                {"name": "b", "path": "/b", "base": "base", "training": "RL", "seed_group": "g", "seed": 1},
            )
        )
    with pytest.raises(ConfigError, match="seed 1 twice"):
        parse_spec(
            spec(
                {"name": "a", "path": "/a", "base": "base", "seed_group": "g", "seed": 1},
                {"name": "b", "path": "/b", "base": "base", "seed_group": "g", "seed": 1},
            )
        )
