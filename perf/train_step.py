"""Time per SFT and GRPO step on the tiny model: transferlab's trainers next to TRL called directly.

    python perf/train_step.py [--steps 10] [--repeats 2]

Both sides get the same TRL config (built by ``sft_config`` / ``grpo_config`` from the tiny preset),
the same data and the same reward functions; "TRL direct" is a plain ``SFTTrainer``/``GRPOTrainer``
with only a timing callback. Our side adds the step logger (JSONL + console), generation timing and
the final save of a plain Hugging Face folder. The KL-to-base measurement does extra forward
passes (real work, not overhead): it is off for the comparison and timed on its own row.
Runs alternate (ours, TRL, ours, TRL...) so that a busy machine hurts both alike; the table shows
the median step over all repeats (first step of each run dropped: warm-up).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from machine import machine_line  # perf/machine.py: the CPU flags printed with every result

QUESTIONS = (
    "what is the total?",
    "find the sum of the number",
    "how many eggs?",
    "what is the product?",
    "how many apples?",
    "find the cost",
    "solve the problem",
    "what is the answer?",
)


def step_callback() -> Any:
    from transformers import TrainerCallback

    class StepTimes(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []
            self._t = 0.0

        def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self._t = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.times.append(time.perf_counter() - self._t)

    return StepTimes()


def ours_steps(log: Path) -> tuple[list[float], list[float], list[float]]:
    recs = [json.loads(x) for x in log.read_text().splitlines() if '"event"' not in x]
    return [r["step_s"] for r in recs][1:], [r.get("generate_s", 0.0) for r in recs][1:], [r["update_s"] for r in recs][1:]


def run_sft(model: Path, data: Path, preset: Any, out: Path, direct: bool) -> tuple[list[float], list[float], list[float]]:
    from datasets import Dataset
    from trl import SFTTrainer

    from transferlab.train.common import load_base, plain_callbacks
    from transferlab.train.data import read_sft_jsonl
    from transferlab.train.sft import sft_config, train_sft

    if not direct:
        return ours_steps(train_sft(str(model), data, preset, out, show_progress=False).log_path)
    m, tok = load_base(str(model), bf16=False)
    cb = step_callback()
    trainer = SFTTrainer(
        model=m, args=sft_config(preset, out, processes=1), train_dataset=Dataset.from_list(read_sft_jsonl(data)), processing_class=tok, callbacks=[cb]
    )
    plain_callbacks(trainer)
    trainer.train()
    return cb.times[1:], [0.0] * (len(cb.times) - 1), cb.times[1:]


def run_grpo(model: Path, prompts: list[Any], preset: Any, out: Path, direct: bool) -> tuple[list[float], list[float], list[float]]:
    from trl import GRPOTrainer

    from transferlab.train.common import load_base, plain_callbacks
    from transferlab.train.grpo import grpo_config, prompt_dataset, train_grpo
    from transferlab.train.rewards import MathReward, overlong_penalty

    if not direct:
        return ours_steps(train_grpo(str(model), prompts, preset, out, show_progress=False).log_path)
    m, tok = load_base(str(model), bf16=False)
    reward = MathReward("think", workers=preset.scorer_workers, timeout_s=preset.scorer_timeout_s)
    reward.warm_up()
    cb = step_callback()
    trainer = GRPOTrainer(
        model=m,
        reward_funcs=[reward, overlong_penalty(preset.max_completion_length, preset.overlong_cache)],
        args=grpo_config(preset, out, processes=1),
        train_dataset=prompt_dataset(prompts),
        processing_class=tok,
        callbacks=[cb],
    )
    plain_callbacks(trainer)
    try:
        trainer.train()
    finally:
        reward.close()
    return cb.times[1:], [0.0] * (len(cb.times) - 1), cb.times[1:]


def main() -> None:
    print(machine_line(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: stable timings on a shared machine)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)

    from transferlab.models import build_tiny_model
    from transferlab.train.data import MathPrompt
    from transferlab.train.presets import TINY_GRPO, TINY_SFT

    tmp = Path(tempfile.mkdtemp(prefix="train_step_"))
    model = build_tiny_model(tmp / "tiny", seed=0)
    data = tmp / "sft.jsonl"
    data.write_text(
        "".join(
            json.dumps(
                {
                    "prompt": [{"role": "user", "content": f"what is {a} plus {b}?"}],
                    "completion": [{"role": "assistant", "content": f"{a} + {b} = {a + b}. \\boxed{{{a + b}}}"}],
                }
            )
            + "\n"
            for a in range(8)
            for b in range(8)
        )
    )
    prompts = [MathPrompt(str(i), q, "17", "bench", "gsm8k") for i, q in enumerate(QUESTIONS)]
    sft = replace(TINY_SFT, max_steps=args.steps, save_steps=10_000)
    grpo = replace(TINY_GRPO, max_steps=args.steps, save_steps=10_000, kl_to_base=False)

    rows: dict[str, list[tuple[float, float, float]]] = {}
    n = 0
    for _ in range(args.repeats):
        for label, fn, preset, inputs in (("SFT", run_sft, sft, data), ("GRPO", run_grpo, grpo, prompts)):
            for direct in (False, True):
                n += 1
                steps, gen, upd = fn(model, inputs, preset, tmp / f"run{n}", direct)
                rows.setdefault(f"{label} {'TRL direct' if direct else 'transferlab'}", []).extend(zip(steps, gen, upd))
    n += 1
    steps, gen, upd = run_grpo(model, prompts, replace(grpo, kl_to_base=True), tmp / f"run{n}", False)
    rows["GRPO transferlab + KL to base"] = list(zip(steps, gen, upd))

    print(
        f"\nmedian seconds per step, tiny model on CPU ({args.threads} torch thread(s)), {args.steps} steps x {args.repeats} runs (first step of each run dropped)"
    )
    print(f"{'run':32} {'step':>8} {'generate':>9} {'update':>8} {'vs TRL':>8}")
    for name, values in rows.items():
        step = statistics.median(v[0] for v in values)
        ref = rows.get(f"{name.split()[0]} TRL direct")
        ratio = step / statistics.median(v[0] for v in ref) if ref else float("nan")
        gen = statistics.median(v[1] for v in values) if "TRL" not in name else float("nan")
        upd = statistics.median(v[2] for v in values) if "TRL" not in name else float("nan")
        print(f"{name:32} {step:8.3f} {gen:9.3f} {upd:8.3f} {ratio:8.3f}")


if __name__ == "__main__":
    main()
