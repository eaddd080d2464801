"""Pretraining the world's base model: all twelve families mixed, mostly direct answers.

    transferlab world pretrain --out src/transferlab/world/base --seed 0 --steps 4800 --threads 1

A plain torch loop over freshly generated TRAIN items (never a test item): each example is the
chat-rendered question followed by its response and ``<|im_end|>``; the loss is on the response
tokens only. The responses:

- every family's direct answer (a math item's ``\\boxed{}`` answer without worked steps);
- for a share of math items (``trace_share``, 30%) the worked solution in the thinking format
  instead, as a web corpus holds a few worked solutions among many bare answers: greedy decoding
  still answers directly (the base stays mediocre at math), while sampling sometimes reasons step
  by step, which is what a reinforcement learner can find and strengthen;
- arithmetic drills (:mod:`transferlab.world.drills`), single operations such as
  ``Compute 24-2.`` -> ``24-2=22``, never a whole problem.

The mix and the share were chosen on the base's math results and on whether SFT and GRPO can raise
math at all, never on any transfer result. AdamW with linear warm-up and cosine decay. Deterministic for a seed and a
step count on one machine (``--minutes`` picks the step count from the measured speed, and the
step count it picked is recorded, so ``--steps N`` repeats the run).
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from transferlab.world.catalog import FAMILIES
from transferlab.world.drills import drill
from transferlab.world.families import is_test_question, to_item
from transferlab.world.model import ModelShape, build_model, parameter_count
from transferlab.world.quickeval import accuracy_table, render_prompt
from transferlab.world.tokenizer import build_tokenizer

IGNORE = -100
BUCKET_BATCHES = 8  # batches drawn together and regrouped by length
SPEED_STEPS = 100  # with --minutes, the step count is fixed from the speed of these first steps
DRILLS = "drills"  # the mix's name of the arithmetic drills (a pretraining-only source)


@dataclass(frozen=True)
class Recipe:
    """Every setting of the pretraining run (recorded in ``recipe.json``)."""

    seed: int = 0
    steps: int = 4800
    batch_size: int = 32
    learning_rate: float = 1e-3
    min_lr_ratio: float = 0.05
    warmup_steps: int = 100
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.98)
    grad_clip: float = 1.0
    mix: dict[str, float] = field(default_factory=lambda: {**{name: 3.0 if f.group == "math" else 1.0 for name, f in FAMILIES.items()}, DRILLS: 8.0})
    trace_share: float = 0.3
    shape: ModelShape = ModelShape()
    eval_items: int = 200
    threads: int = 2


def example_stream(recipe: Recipe) -> Iterator[tuple[str, str]]:
    """Endless (question, response) TRAIN pairs, sources drawn by the recipe's mix; a math item's
    response is its worked trace with probability ``trace_share``, else its direct answer."""
    from transferlab.world.teacher import teacher_trace

    names = list(recipe.mix)
    weights = [recipe.mix[n] for n in names]
    pick = random.Random(f"pretrain/mix/{recipe.seed}")
    traced = random.Random(f"pretrain/trace/{recipe.seed}")
    streams = {n: random.Random(f"pretrain/{n}/{recipe.seed}") for n in names}
    while True:
        name = pick.choices(names, weights)[0]
        if name == DRILLS:
            yield drill(streams[name])
            continue
        family = FAMILIES[name]
        task = family.generate(streams[name])
        if is_test_question(task.question):
            continue
        if family.group == "math" and traced.random() < recipe.trace_share:
            yield task.question, teacher_trace(to_item(family, task))
        else:
            yield task.question, task.response


def encode_batch(tokenizer: Any, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Right-padded ``input_ids``, ``attention_mask`` and ``labels`` (prompt tokens ignored)."""
    import torch

    prompts = tokenizer([render_prompt(tokenizer, q) for q, _ in pairs], add_special_tokens=False)["input_ids"]
    answers = tokenizer([r for _, r in pairs], add_special_tokens=False)["input_ids"]
    rows = [(p + a + [tokenizer.eos_token_id], len(p)) for p, a in zip(prompts, answers)]
    width = max(len(r) for r, _ in rows)
    ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (row, n_prompt) in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
        labels[i, n_prompt : len(row)] = torch.tensor(row[n_prompt:])
        mask[i, : len(row)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def bucketed(tokenizer: Any, pairs: list[tuple[str, str]], batch_size: int) -> list[list[tuple[str, str]]]:
    """Split ``pairs`` into batches of similar length (less padding), in a fixed shuffled order."""
    lengths = [len(q) + len(r) for q, r in pairs]
    order = sorted(range(len(pairs)), key=lambda i: (lengths[i], i))
    batches = [[pairs[i] for i in order[k : k + batch_size]] for k in range(0, len(order), batch_size)]
    random.Random(len(pairs) + sum(lengths)).shuffle(batches)
    return batches


def lr_at(step: int, total: int, recipe: Recipe) -> float:
    """Learning rate of optimizer step ``step`` (0-based): linear warm-up, cosine to ``min_lr_ratio``."""
    if step < recipe.warmup_steps:
        return recipe.learning_rate * (step + 1) / recipe.warmup_steps
    progress = (step - recipe.warmup_steps) / max(1, total - recipe.warmup_steps)
    floor = recipe.min_lr_ratio
    return recipe.learning_rate * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def _optimizer(model: Any, recipe: Recipe) -> Any:
    import torch

    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    other = [p for n, p in model.named_parameters() if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": other, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=recipe.learning_rate, betas=recipe.betas)


Report = Callable[[int, int, float, float], None]  # (step, total, loss, seconds so far)


def train_loop(model: Any, tokenizer: Any, recipe: Recipe, *, minutes: float | None = None, report: Report | None = None) -> tuple[int, float, float]:
    """Run the optimizer; returns (steps done, final mean loss, wall seconds)."""
    import torch

    torch.manual_seed(recipe.seed)
    optimizer = _optimizer(model, recipe)
    stream = example_stream(recipe)
    total, start = recipe.steps, time.monotonic()
    recent: list[float] = []
    model.train()
    step = 0
    batches: list[list[tuple[str, str]]] = []
    while step < total:
        if not batches:
            batches = bucketed(tokenizer, [next(stream) for _ in range(recipe.batch_size * BUCKET_BATCHES)], recipe.batch_size)
        batch = encode_batch(tokenizer, batches.pop())
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, total, recipe)
        loss = model(**batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
        optimizer.step()
        recent = (recent + [float(loss.detach())])[-50:]
        step += 1
        if minutes is not None and step == SPEED_STEPS:  # fix the step count from the measured speed
            per_step = (time.monotonic() - start) / step
            total = max(step + 1, min(total, int(minutes * 60 / per_step)))
        if report is not None:
            report(step, total, sum(recent) / len(recent), time.monotonic() - start)
    model.eval()
    return step, sum(recent) / len(recent), time.monotonic() - start


def pretrain(out_dir: Path, recipe: Recipe = Recipe(), *, minutes: float | None = None, report: Report | None = None) -> dict[str, Any]:
    """Build tokenizer and model, pretrain, evaluate greedy on the test split, write a HF folder.

    Returns the recorded recipe (also written to ``out_dir/recipe.json``).
    """
    import torch

    torch.set_num_threads(recipe.threads)
    tokenizer = build_tokenizer(recipe.seed)
    model = build_model(tokenizer, recipe.shape, recipe.seed)
    steps, loss, wall = train_loop(model, tokenizer, recipe, minutes=minutes, report=report)
    accuracy = accuracy_table(model, tokenizer, recipe.eval_items)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    record = {
        "recipe": {**asdict(recipe), "steps": steps},
        "requested_steps": recipe.steps,
        "minutes_cap": minutes,
        "final_loss": round(loss, 4),
        "wall_seconds": round(wall, 1),
        "parameters": parameter_count(model),
        "greedy_accuracy_test": {k: round(v, 4) for k, v in accuracy.items()},
        "torch": torch.__version__,
    }
    (out_dir / "recipe.json").write_text(json.dumps(record, indent=2) + "\n")
    return record
