"""Fast in-process accuracy of a world model on the test split (pretraining checks and reports).

Generation goes through ``transformers``' ``generate`` (greedy, or sampled at a temperature) and
answers are checked by each family's exact verifier (for math the fast integer check, which
agrees with the project's math scorer on these integer answers). The benchmark path
(``transferlab eval``) is the reference; this one is for progress lines and ``recipe.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from transferlab.world.catalog import FAMILIES, test_items
from transferlab.world.families import Family

MAX_NEW_TOKENS = 64


def render_prompt(tokenizer: Any, question: str) -> str:
    """The chat prompt of a world question (no system message, thinking not forced)."""
    return tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True)


def generate_answers(model: Any, tokenizer: Any, questions: Sequence[str], *, temperature: float = 0.0, batch_size: int = 64, seed: int = 0) -> list[str]:
    """Completions (special tokens dropped, think tags kept) of ``questions``, in order."""
    import torch

    tokenizer.padding_side = "left"
    out: list[str] = []
    torch.manual_seed(seed)
    for start in range(0, len(questions), batch_size):
        prompts = [render_prompt(tokenizer, q) for q in questions[start : start + batch_size]]
        enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        sampling = {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0} if temperature > 0 else {"do_sample": False}
        with torch.inference_mode():
            gen = model.generate(**enc, max_new_tokens=MAX_NEW_TOKENS, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, **sampling)
        out += tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    return out


def answer_part(completion: str) -> str:
    """The answer after a closed thinking block (the whole text when there is none; "" if unclosed)."""
    from transferlab.scoring.thinking import split_thinking

    return split_thinking(completion, "think").answer


def family_accuracy(model: Any, tokenizer: Any, family: Family, n: int, *, temperature: float = 0.0, seed: int = 0) -> float:
    """Share (0-1) of ``n`` test items of ``family`` answered correctly."""
    items = test_items(family.name, n)
    answers = generate_answers(model, tokenizer, [i.fields["question"] for i in items], temperature=temperature, seed=seed)
    return sum(family.check(i.reference, i.meta, answer_part(a))[0] for i, a in zip(items, answers)) / len(items)


def accuracy_table(model: Any, tokenizer: Any, n: int, *, temperature: float = 0.0, families: Sequence[str] | None = None) -> dict[str, float]:
    """``{family: accuracy}`` plus ``{"group:<g>": mean over its families}``."""
    model.eval()
    names = list(families or FAMILIES)
    table = {name: family_accuracy(model, tokenizer, FAMILIES[name], n, temperature=temperature) for name in names}
    for group in ("math", "other", "non"):
        scores = [v for k, v in table.items() if k in FAMILIES and FAMILIES[k].group == group]
        if scores:
            table[f"group:{group}"] = sum(scores) / len(scores)
    return table
