"""The GRPO reward is the evaluation's math scorer: same verdicts on real model answers."""

from __future__ import annotations

import json

import pytest

from transferlab.errors import ConfigError
from transferlab.items import Item
from transferlab.pipeline.score import LazyScoringContext, score_completions
from transferlab.store import CompletionRecord, Store
from transferlab.train.rewards import MathReward, overlong_penalty


def real_answers(shared_data, n_questions=25):
    """The first 25 MATH questions x 8 sampled Qwen2.5-Math answers (200), with their references."""
    rows = [json.loads(line) for line in (shared_data / "math_generations" / "math_cot_100.jsonl").open()][:n_questions]
    return [(str(r["idx"]), r["question"], r["gt"], text) for r in rows for text in r["code"]]


def evaluation_verdicts(tmp_path, answers):
    """Score the answers exactly as `transferlab eval` does: through the store and scoring.pipeline."""
    with Store(tmp_path / "eval.db") as store:
        store.add_items("math500", [Item(i, {"question": q}, gold) for i, q, gold in dict.fromkeys(a[:3] for a in answers)])
        hashes = store.add_prompts([q for _, q, _, _ in answers])
        records = [
            CompletionRecord(
                key=f"k{n}",
                model_key="qwen",
                benchmark="math500",
                item_id=i,
                prompt_hash=hashes[q],
                gen_key="g",
                seed=0,
                sample_index=n % 8,
                text=text,
                finish_reason="stop",
                prompt_tokens=None,
                completion_tokens=None,
            )
            for n, (i, q, _, text) in enumerate(answers)
        ]
        with LazyScoringContext(workers=1) as context:
            scores = score_completions(store, records, "math500", context)
    return [s.score for s in scores]


def test_reward_agrees_with_the_evaluation_scorer_on_real_answers(shared_data, tmp_path):
    answers = real_answers(shared_data)
    assert len(answers) == 200
    expected = evaluation_verdicts(tmp_path, answers)
    reward = MathReward("think", workers=1)
    try:
        got = reward(
            prompts=[[{"role": "user", "content": q}] for _, q, _, _ in answers],
            completions=[[{"role": "assistant", "content": text}] for *_, text in answers],
            answer=[gold for _, _, gold, _ in answers],
        )
    finally:
        reward.close()
    assert got == expected
    assert 100 < sum(got) < 200  # real answers, right and wrong: the comparison is not vacuous


def test_reward_splits_thinking_like_evaluation():
    reward = MathReward("think-end", workers=1)
    try:
        texts = ["so the answer is \\boxed{2}", "so </think> The answer is \\boxed{2}", "</think> \\boxed{3}", "#### 2"]
        assert reward.grade(texts, ["2"] * 4) == [0.0, 1.0, 0.0, 0.0]  # unclosed thinking is never graded as the answer
        assert reward.grade(["</think> so 12 and then 2"], ["2"], ["gsm8k"]) == [1.0]  # the GSM8K extraction: last number
    finally:
        reward.close()
    with pytest.raises(ConfigError):
        MathReward("auto")


def test_overlong_penalty_is_dapo_eq_13():
    penalty = overlong_penalty(100, 20)
    assert penalty(completion_ids=[[1] * 50, [1] * 80, [1] * 90, [1] * 100]) == [0.0, 0.0, -0.5, -1.0]
    with pytest.raises(ConfigError):
        overlong_penalty(100, 100)
