"""Supervised fine-tuning on rejection-sampled traces, with TRL's ``SFTTrainer`` underneath.

Run (the tiny preset on a CPU; the paper preset under ``accelerate launch`` on GPUs)::

    transferlab train sft --base MODEL --data sft.jsonl --preset tiny --out ckpt/sft

The data are chat-format prompt/completion pairs (``transferlab distill`` writes them); the loss is
on the completion tokens only. Every TRL setting that shapes the run comes from the preset.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from transferlab.train.callbacks import LOG_NAME, StepLogger
from transferlab.train.common import TrainResult, checkpointing_args, load_base, plain_callbacks, prepare_out, report_to, save_final, world_size
from transferlab.train.data import read_sft_jsonl
from transferlab.train.presets import SFTPreset, to_dict


def sft_config(preset: SFTPreset, out_dir: Path, *, processes: int, report: list[str] | None = None) -> Any:
    """The ``trl.SFTConfig`` of a preset, every field that shapes training set explicitly."""
    import torch
    from trl import SFTConfig

    return SFTConfig(
        output_dir=str(out_dir),
        per_device_train_batch_size=preset.per_device_batch_size,
        gradient_accumulation_steps=preset.accumulation(processes),
        learning_rate=preset.learning_rate,
        lr_scheduler_type=preset.lr_scheduler,
        warmup_steps=preset.warmup_ratio,  # a float below 1 is a ratio of the total steps
        num_train_epochs=preset.num_epochs,
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
        **checkpointing_args(SFTConfig, preset.gradient_checkpointing),
        seed=preset.seed,
        data_seed=preset.seed,
        max_length=preset.max_length,
        truncation_mode="keep_start",
        packing=preset.packing,
        padding_free=False,
        completion_only_loss=preset.completion_only_loss,
        assistant_only_loss=False,
        loss_type="nll",
        shuffle_dataset=True,
        dataset_num_proc=None,
        dataloader_num_workers=preset.dataloader_num_workers,
        logging_strategy="steps",
        logging_steps=1,
        save_strategy="steps",
        save_steps=preset.save_steps,
        save_total_limit=preset.save_total_limit,
        eval_strategy="no",
        report_to=report or ["none"],
        disable_tqdm=True,
    )


def _file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def train_sft(
    base: str, data: str | Path, preset: SFTPreset, out_dir: str | Path, *, report: list[str] | None = None, show_progress: bool | None = None
) -> TrainResult:
    """Fine-tune ``base`` on the SFT file ``data``; resumes from the last checkpoint in ``out_dir``.

    Everything that can be wrong with the inputs (a malformed line, an unloadable base, a batch
    that does not split over the processes) raises before the first step.
    """
    from datasets import Dataset
    from trl import SFTTrainer

    out_dir = Path(out_dir)
    examples = read_sft_jsonl(data)
    processes = world_size()
    reporters = report_to(report)
    config = sft_config(preset, out_dir, processes=processes, report=reporters)
    settings = {"kind": "sft", "base": str(base), "data": str(data), "data_sha": _file_digest(Path(data)), "preset": to_dict(preset)}
    model, tokenizer = load_base(base, bf16=config.bf16)
    resume = prepare_out(out_dir, settings)
    logger = StepLogger(out_dir / LOG_NAME, "sft", show_progress=show_progress)
    trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(examples), processing_class=tokenizer, callbacks=[logger])
    plain_callbacks(trainer)
    trainer.train(resume_from_checkpoint=resume)
    save_final(trainer, tokenizer, out_dir)
    return TrainResult(out_dir, trainer.state.global_step, resume, out_dir / LOG_NAME, trainer.accelerator.num_processes)
