"""GRPO in the DAPO recipe, with TRL's ``GRPOTrainer`` underneath.

Run (the tiny preset on a CPU; the paper preset under ``accelerate launch`` on GPUs)::

    transferlab train grpo --base MODEL --prompts math_train --preset tiny --out ckpt/grpo

How the paper's recipe (docs/paper.md §3) maps onto TRL 1.16:

- reward = the evaluation's math scorer (:class:`~transferlab.train.rewards.MathReward`), plus
  DAPO's soft overlong penalty (``trl.rewards.get_soft_overlong_punishment``) when
  ``overlong_cache`` > 0; TRL sums the two before normalising;
- group-normalised advantages: ``scale_rewards="group"``; no KL term: ``beta=0``; clip-higher:
  ``epsilon``/``epsilon_high``; token-mean loss: ``loss_type="dapo"``; rollout temperature 1.0;
- one optimizer step per rollout batch of ``prompts_per_step x num_generations`` completions
  (``steps_per_generation`` = gradient accumulation), so every update is on-policy.

Not in TRL, and not faked here: DAPO's **dynamic sampling** (drop the groups whose rewards are all
equal and sample more prompts until the batch is full). Under group normalisation such a group
gets advantage 0, so it adds nothing to the policy gradient, but its tokens still count in the
token-mean denominator and the batch is not refilled; ``zero_spread_share`` in the log says how
much of each batch that was.

Two measurements are added on top of TRL: time spent generating (rollouts and scoring) vs
updating, and KL(policy || base) every step even with ``beta=0`` (TRL computes it only when the
KL term is on): a frozen copy of the base scores each step's rollouts, k3 estimator as TRL's.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from transferlab.options import ThinkingParser
from transferlab.train.callbacks import LOG_NAME, StepLogger, StepTimer
from transferlab.train.common import TrainResult, checkpointing_args, load_base, plain_callbacks, prepare_out, report_to, save_final, world_size
from transferlab.train.data import MathPrompt
from transferlab.train.presets import GRPOPreset, to_dict
from transferlab.train.rewards import MathReward, overlong_penalty


def grpo_config(preset: GRPOPreset, out_dir: Path, *, processes: int, report: list[str] | None = None, enable_thinking: bool | None = None) -> Any:
    """The ``trl.GRPOConfig`` of a preset, every field that shapes training set explicitly."""
    import torch
    from trl import GRPOConfig

    accumulation = preset.accumulation(processes)
    return GRPOConfig(
        output_dir=str(out_dir),
        per_device_train_batch_size=preset.per_device_batch_size,
        gradient_accumulation_steps=accumulation,
        steps_per_generation=accumulation,
        num_generations=preset.num_generations,
        max_completion_length=preset.max_completion_length,
        temperature=preset.temperature,
        top_p=preset.top_p,
        top_k=0,
        min_p=None,
        repetition_penalty=1.0,
        generation_kwargs=None,
        chat_template_kwargs=None if enable_thinking is None else {"enable_thinking": enable_thinking},
        beta=preset.beta,
        epsilon=preset.epsilon,
        epsilon_high=preset.epsilon_high,
        delta=None,
        loss_type=preset.loss_type,
        scale_rewards=preset.scale_rewards,
        num_iterations=preset.num_iterations,
        importance_sampling_level="token",
        mask_truncated_completions=preset.mask_truncated_completions,
        top_entropy_quantile=1.0,
        entropy_coef=preset.entropy_coef,
        use_adaptive_entropy=False,
        multi_objective_aggregation="sum_then_normalize",
        reward_weights=[1.0, 1.0] if preset.overlong_cache else [1.0],
        learning_rate=preset.learning_rate,
        lr_scheduler_type=preset.lr_scheduler,
        warmup_steps=preset.warmup_ratio,
        max_steps=preset.max_steps,
        weight_decay=preset.weight_decay,
        adam_beta1=preset.adam_beta1,
        adam_beta2=preset.adam_beta2,
        adam_epsilon=preset.adam_epsilon,
        max_grad_norm=preset.max_grad_norm,
        optim="adamw_torch",
        bf16=preset.bf16 and torch.cuda.is_available(),
        fp16=False,
        use_cpu=not torch.cuda.is_available(),  # also makes torchrun-launched CPU processes use gloo
        **checkpointing_args(GRPOConfig, preset.gradient_checkpointing),
        disable_dropout=True,
        seed=preset.seed,
        data_seed=preset.seed,
        shuffle_dataset=True,
        use_vllm=preset.use_vllm,
        vllm_mode=preset.vllm_mode,
        vllm_gpu_memory_utilization=preset.vllm_gpu_memory_utilization,
        use_transformers_continuous_batching=False,
        remove_unused_columns=False,
        log_completions=False,
        logging_strategy="steps",
        logging_steps=1,
        save_strategy="steps",
        save_steps=preset.save_steps,
        save_total_limit=preset.save_total_limit or None,  # 0: keep every checkpoint
        eval_strategy="no",
        report_to=report or ["none"],
        disable_tqdm=True,
    )


def reload_weights_on_cpu(generation: Any) -> None:
    """On vLLM's CPU build, push the policy's weights into the colocated engine with vLLM's reload.

    TRL's colocated sync calls ``load_weights`` on the engine's layers, but vLLM's CPU build repacks
    linear weights into its GEMM kernels after loading and drops the originals, so that fails
    ("'Parameter' object has no attribute 'weight_loader'"). vLLM's in-place ``reload_weights``
    restores each layer, loads the new weights and repacks them. GPUs keep TRL's own sync.
    """
    from vllm.platforms import current_platform

    if not current_platform.is_cpu():
        return

    def sync_weights() -> None:
        runner = generation.llm.llm_engine.model_executor.driver_worker.model_runner
        runner.reload_weights(weights_iterator=generation._iter_named_params())
        generation.llm.reset_prefix_cache()

    generation.sync_weights = sync_weights


def _trainer_class() -> type:
    """``GRPOTrainer`` plus generation timing and KL to the base (built lazily: TRL imports slowly)."""
    import torch
    from trl import GRPOTrainer
    from trl.models import prepare_deepspeed, prepare_fsdp
    from trl.trainer.utils import add_fused_lm_head

    class TimedGRPOTrainer(GRPOTrainer):
        """TRL's trainer, timing its rollouts and logging KL(policy || base) when beta is 0."""

        def __init__(self, *args: Any, timer: StepTimer, base_copy: Any = None, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if self.use_vllm and self.vllm_mode == "colocate":
                reload_weights_on_cpu(self.vllm_generation)
            self.timer = timer
            self.base_copy = None
            if base_copy is not None and self.beta == 0.0:
                add_fused_lm_head(base_copy, temperature=self.temperature)
                base_copy.eval().requires_grad_(False)
                if self.is_deepspeed_enabled:
                    self.base_copy = prepare_deepspeed(base_copy, self.accelerator)
                elif self.is_fsdp_enabled:
                    self.base_copy = prepare_fsdp(base_copy, self.accelerator)
                else:
                    self.base_copy = self.accelerator.prepare_model(base_copy, evaluation_mode=True)

        def _generate_and_score_completions(self, inputs: Any) -> Any:
            started = time.perf_counter()
            output = super()._generate_and_score_completions(inputs)
            self.timer.add("generate", time.perf_counter() - started)
            if self.base_copy is not None and self.model is not None and self.model.training:
                self._metrics["train"]["kl"].append(self._kl_to_base(output))
            return output

        @torch.no_grad()
        def _kl_to_base(self, output: dict[str, Any]) -> float:
            """Mean over completion tokens of TRL's k3 estimate of KL(policy || base), all processes."""
            ids = torch.cat([output["prompt_ids"], output["completion_ids"]], dim=1)
            mask = torch.cat([output["prompt_mask"], output["completion_mask"]], dim=1)
            keep = output["completion_ids"].size(1)
            size = self.args.per_device_train_batch_size
            policy = output.get("old_per_token_logps")
            if policy is None:
                policy, _, _ = self._get_per_token_logps_and_entropies(self.model, ids, mask, keep, batch_size=size)
            base, _, _ = self._get_per_token_logps_and_entropies(self.base_copy, ids, mask, keep, batch_size=size)
            delta = base - policy
            per_token = torch.exp(delta) - delta - 1
            cmask = output["completion_mask"].float()
            totals = self.accelerator.reduce(torch.stack([(per_token * cmask).sum(), cmask.sum()]), reduction="sum")
            return (totals[0] / totals[1].clamp(min=1.0)).item()

    return TimedGRPOTrainer


def prompt_dataset(prompts: Sequence[MathPrompt]) -> Any:
    """The TRL dataset: a conversational ``prompt`` and its reference ``answer`` per row."""
    from datasets import Dataset

    return Dataset.from_list([{"prompt": p.messages(), "answer": p.answer, "answer_style": p.style} for p in prompts])


def resolve_parser(tokenizer: Any, prompt: MathPrompt, enable_thinking: bool | None) -> ThinkingParser:
    """The thinking parser for rollouts, from the rendered prompt as the scoring pipeline does."""
    from transferlab.scoring.thinking import parser_for_prompt

    kwargs = {} if enable_thinking is None else {"enable_thinking": enable_thinking}
    rendered = tokenizer.apply_chat_template(prompt.messages(), tokenize=False, add_generation_prompt=True, **kwargs)
    return parser_for_prompt(rendered, "auto")


def train_grpo(
    base: str,
    prompts: Sequence[MathPrompt],
    preset: GRPOPreset,
    out_dir: str | Path,
    *,
    prompt_set: str = "custom",
    enable_thinking: bool | None = None,
    report: list[str] | None = None,
    show_progress: bool | None = None,
) -> TrainResult:
    """Train ``base`` with GRPO on ``prompts``; resumes from the last checkpoint in ``out_dir``.

    Bad inputs (no prompts, an unloadable base, a batch that does not split into whole groups over
    the processes) raise before the first rollout.
    """
    out_dir = Path(out_dir)
    processes = world_size()
    config = grpo_config(preset, out_dir, processes=processes, report=report_to(report), enable_thinking=enable_thinking)
    settings = {
        "kind": "grpo",
        "base": str(base),
        "prompts": prompt_set,
        "n_prompts": len(prompts),
        "enable_thinking": enable_thinking,
        "preset": to_dict(preset),
    }
    model, tokenizer = load_base(base, bf16=preset.bf16 and config.bf16)
    resume = prepare_out(out_dir, settings)
    timer = StepTimer()
    reward = MathReward(resolve_parser(tokenizer, prompts[0], enable_thinking), workers=preset.scorer_workers, timeout_s=preset.scorer_timeout_s, timer=timer)
    rewards: list[Any] = [reward] + ([overlong_penalty(preset.max_completion_length, preset.overlong_cache)] if preset.overlong_cache else [])
    base_copy = copy.deepcopy(model) if preset.kl_to_base else None
    trainer = _trainer_class()(
        model=model,
        reward_funcs=rewards,
        args=config,
        train_dataset=prompt_dataset(prompts),
        processing_class=tokenizer,
        callbacks=[StepLogger(out_dir / LOG_NAME, "grpo", timer, show_progress=show_progress)],
        timer=timer,
        base_copy=base_copy,
    )
    plain_callbacks(trainer)
    reward.warm_up()
    try:
        trainer.train(resume_from_checkpoint=resume)
    finally:
        reward.close()
    save_final(trainer, tokenizer, out_dir)
    return TrainResult(out_dir, trainer.state.global_step, resume, out_dir / LOG_NAME, trainer.accelerator.num_processes)
