"""The mini-world's model side: tokenizer, chat template, the shipped base, the pretraining recipe."""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict

import pytest

from transferlab.backends.hf import HFBackend
from transferlab.benchmarks import get_benchmark
from transferlab.models import load_tokenizer
from transferlab.pipeline.generate import run_eval
from transferlab.pipeline.results import results
from transferlab.pipeline.score import score_store
from transferlab.scoring.thinking import parser_for_prompt
from transferlab.spec import GenerationConfig
from transferlab.store import Store
from transferlab.world import FAMILIES, base_model_path, teacher_trace, train_items
from transferlab.world.model import ModelShape, parameter_count
from transferlab.world.pretrain import Recipe, encode_batch, lr_at, pretrain

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(base_model_path())


def test_tokenizer_round_trips_world_text_with_digits_split(tokenizer):
    from transformers import PreTrainedTokenizerFast

    assert isinstance(tokenizer, PreTrainedTokenizerFast)  # our own BPE, never swapped for Qwen2's
    texts = [i.fields["question"] for name in FAMILIES for i in train_items(name, 5, 0)]
    texts += [teacher_trace(i) for i in train_items("world_multipart", 5, 0)] + ["ÄÖ unseen text 12345 \\boxed{x}"]
    for text in texts:
        assert tokenizer.decode(tokenizer(text)["input_ids"], skip_special_tokens=True) == text
    assert tokenizer.tokenize("1234") == ["1", "2", "3", "4"]
    think = tokenizer("<think>1+2=3</think>")["input_ids"]
    assert tokenizer.convert_ids_to_tokens(think)[0] == "<think>" and "<think>" not in tokenizer.all_special_tokens


def test_chat_template_renders_chatml_and_opens_thinking(tokenizer):
    messages = [{"role": "user", "content": "Solve for x: x + 2 = 5."}]
    plain = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert plain == "<|im_start|>user\nSolve for x: x + 2 = 5.<|im_end|>\n<|im_start|>assistant\n"
    thinking = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, enable_thinking=True)
    assert thinking.endswith("<|im_start|>assistant\n<think>\n") and parser_for_prompt(thinking) == "think-end"
    assert parser_for_prompt(plain) == "think" and tokenizer.eos_token == "<|im_end|>"


def test_shipped_base_is_a_1m_qwen2_with_its_recipe(tokenizer):
    backend = HFBackend(str(base_model_path()), device="cpu")
    assert type(backend.hf_model).__name__ == "Qwen2ForCausalLM"
    assert 0.5e6 < parameter_count(backend.hf_model) < 1.5e6
    recipe = json.loads((base_model_path() / "recipe.json").read_text())
    assert recipe["recipe"]["seed"] == 0 and recipe["recipe"]["steps"] > 0 and len(recipe["greedy_accuracy_test"]) == 15
    # the shipped base is the default recipe (one thread), so the README's command remakes it
    assert recipe["recipe"] == json.loads(json.dumps(dataclasses.asdict(Recipe(threads=1))))


def test_shipped_base_scores_between_0_and_100_on_each_group(tmp_path):
    backend = HFBackend(str(base_model_path()), device="cpu", batch_size=64)
    with Store(tmp_path / "runs.db") as store:
        run_eval(backend, [get_benchmark(n) for n in FAMILIES], GenerationConfig(max_new_tokens=40), store, limit=24, show_progress=False)
        assert score_store(store, show_progress=False) == 12 * 24
        rows = results(store)
    by_group = defaultdict(list)
    for row in rows:
        by_group[row.group].append(row.accuracy)
    assert sorted(by_group) == ["math", "non", "other"] and all(len(v) == 4 for v in by_group.values())
    means = {g: sum(v) / 4 for g, v in by_group.items()}
    assert all(5 < m < 95 for m in means.values()), means


def test_loss_is_on_the_answer_only_and_the_schedule_warms_up(tokenizer):
    batch = encode_batch(tokenizer, [("Solve for x: x + 2 = 5.", "\\boxed{3}"), ("What does this program print?\na = 1\nprint(a)", "1")])
    labels, ids = batch["labels"], batch["input_ids"]
    answer = tokenizer.decode([t for t in labels[0].tolist() if t >= 0])
    assert answer == "\\boxed{3}<|im_end|>" and (labels[batch["attention_mask"] == 0] == -100).all()
    assert (ids[0][labels[0] >= 0] == labels[0][labels[0] >= 0]).all()
    recipe = Recipe(learning_rate=1.0, warmup_steps=10, min_lr_ratio=0.1)
    assert lr_at(0, 100, recipe) == pytest.approx(0.1) and lr_at(10, 100, recipe) == pytest.approx(1.0)
    assert lr_at(99, 100, recipe) == pytest.approx(0.1, abs=0.01)


def test_pretrain_recipe_is_deterministic_and_writes_a_loadable_folder(tmp_path):
    shape = ModelShape(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1, intermediate_size=64)
    recipe = Recipe(steps=3, batch_size=4, warmup_steps=1, eval_items=1, threads=1, shape=shape)
    first, second = pretrain(tmp_path / "a", recipe), pretrain(tmp_path / "b", recipe)
    assert first["recipe"]["steps"] == 3 and first["final_loss"] == second["final_loss"]
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()
    for name in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "recipe.json"):
        assert (tmp_path / "a" / name).is_file()
    assert HFBackend(str(tmp_path / "a"), device="cpu").tokenizer.chat_template


def test_drills_are_single_correct_operations_of_the_teachers_kinds():
    import random
    import re

    from transferlab.world.drills import drill

    rng, kinds = random.Random(0), set()
    for _ in range(2000):
        question, response = drill(rng)
        if match := re.fullmatch(r"(\d+)=(\d+)\*(\d+)\+(\d+)", response):  # divmod: n=d*q+r, 0 <= r < d
            n, d, q, r = map(int, match.groups())
            assert question == f"Divide {n} by {d}." and n == d * q + r and 0 <= r < d
            kinds.add("divmod")
            continue
        a, op, b, c = re.fullmatch(r"(\d+)([-+*/])(\d+)=(\d+)", response).groups()
        assert question == f"Compute {a}{op}{b}."
        a, b, c = int(a), int(b), int(c)
        assert (a + b if op == "+" else a - b if op == "-" else a * b if op == "*" else a / b) == c, response
        kinds.add(op)
    assert kinds == {"+", "-", "*", "/", "divmod"}


def test_pretraining_stream_mixes_drills_and_a_share_of_worked_math_never_test_items():
    import itertools

    from transferlab.world.families import is_test_question
    from transferlab.world.pretrain import example_stream

    def math_questions(recipe: Recipe) -> list[tuple[str, str]]:
        return [(q, r) for q, r in itertools.islice(example_stream(recipe), 4000) if r.startswith(("\\boxed", "<think>"))]

    traced = math_questions(Recipe(trace_share=0.25))
    share = sum(r.startswith("<think>") for _, r in traced) / len(traced)
    assert 0.2 < share < 0.3 and len(traced) > 1500
    assert not any(r.startswith("<think>") for _, r in math_questions(Recipe(trace_share=0.0)))
    pairs = list(itertools.islice(example_stream(Recipe()), 3000))
    drills = [q for q, _ in pairs if q.startswith(("Compute ", "Divide "))]
    assert not any(is_test_question(q) for q, _ in pairs if q not in drills)  # drills are no family's items
    assert 0.2 < len(drills) / len(pairs) < 0.37  # drills weigh 8 of 28
    assert pairs == list(itertools.islice(example_stream(Recipe()), 3000))  # deterministic for a seed
