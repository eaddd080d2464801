import pytest

from transferlab.errors import ConfigError
from transferlab.spec import GenerationConfig


def test_key_is_stable_and_ignores_k_and_rendering():
    a = GenerationConfig(samples=4, temperature=0.7, seed=1)
    b = GenerationConfig(samples=8, temperature=0.7, seed=1, system_prompt="x", prompt_style="paper")
    assert a.key() == b.key()
    assert a.key() != GenerationConfig(samples=4, temperature=0.7, seed=2).key()
    assert a.key() != GenerationConfig(samples=4, temperature=0.7, seed=1, max_new_tokens=10).key()


def test_greedy_ignores_seed_and_top_p():
    assert GenerationConfig(seed=1, top_p=0.5).key() == GenerationConfig(seed=2).key()


def test_round_trip_and_validation():
    c = GenerationConfig(samples=2, stop=("Problem:",), enable_thinking=False)
    assert GenerationConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ConfigError, match="unknown generation setting"):
        GenerationConfig.from_dict({"temprature": 1})
    for bad in ({"samples": 0}, {"temperature": -1}, {"top_p": 0}, {"max_new_tokens": 0}):
        with pytest.raises(ConfigError):
            GenerationConfig(**bad)
