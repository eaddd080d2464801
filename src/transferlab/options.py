"""Every choice a user makes by name, each defined once as a ``Literal`` type with its tuple of values.

The command line takes its ``choices=`` from these tuples, the study spec validates against them,
and the code that acts on a choice is typed with the same ``Literal``: a name travels unchanged
from ``--flag`` to the function that reads it.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

__all__ = [
    "API_KINDS",
    "BACKEND_KINDS",
    "DTYPES",
    "MATH_GRADERS",
    "POOLINGS",
    "THINKING_PARSERS",
    "THINKING_REQUESTS",
    "TI_VERSIONS",
    "TRAINING_METHODS",
    "AnswerStyle",
    "ApiKind",
    "BackendKind",
    "Dtype",
    "MathGraderName",
    "Pooling",
    "ThinkingParser",
    "ThinkingRequest",
    "TIVersion",
    "TrainingMethod",
    "ANSWER_STYLES",
]

MathGraderName = Literal["transferlab", "qwen25-math"]
"""The math grader: ``transferlab`` (our scorer, the default everywhere, stored as ``math``) or
``qwen25-math`` (the verdicts of the Qwen2.5-Math evaluation harness, known errors included,
stored as ``math_qwen25``; to compare with numbers that harness produced)."""
MATH_GRADERS: Final[tuple[MathGraderName, ...]] = get_args(MathGraderName)

ThinkingParser = Literal["think", "think-end", "none"]
"""How a completion is split into thinking and answer (see :mod:`transferlab.scoring.thinking`)."""
THINKING_PARSERS: Final[tuple[ThinkingParser, ...]] = get_args(ThinkingParser)

ThinkingRequest = Literal["auto", "think", "think-end", "none"]
"""A thinking parser as asked for: one of :data:`ThinkingParser`, or ``auto`` (picked per rendered prompt)."""
THINKING_REQUESTS: Final[tuple[ThinkingRequest, ...]] = get_args(ThinkingRequest)

AnswerStyle = Literal["boxed", "gsm8k"]
"""Math answer extraction: the last ``\\boxed{}``, or GSM8K's ``####`` and last-number fallbacks too."""
ANSWER_STYLES: Final[tuple[AnswerStyle, ...]] = get_args(AnswerStyle)

Dtype = Literal["auto", "float32", "bfloat16", "float16"]
"""Model weights' dtype; ``auto`` is bfloat16 on a GPU, float32 on a CPU."""
DTYPES: Final[tuple[Dtype, ...]] = get_args(Dtype)

BackendKind = Literal["hf", "vllm", "openai"]
"""What runs the model: transformers here, vLLM's offline engine, or OpenAI-compatible servers."""
BACKEND_KINDS: Final[tuple[BackendKind, ...]] = get_args(BackendKind)

ApiKind = Literal["chat", "completions"]
"""The openai backend's API: the server applies the chat template, or we render and send text."""
API_KINDS: Final[tuple[ApiKind, ...]] = get_args(ApiKind)

TIVersion = Literal["v1", "v2"]
"""The Transferability Index version (PAPER.md section 2): v1 (relative gains) or v2 (σ-normalised)."""
TI_VERSIONS: Final[tuple[TIVersion, ...]] = get_args(TIVersion)

TrainingMethod = Literal["RL", "SFT", "other", "base"]
"""How a study model was trained (``base``: a checkpoint others are compared with)."""
TRAINING_METHODS: Final[tuple[TrainingMethod, ...]] = get_args(TrainingMethod)

Pooling = Literal["masked", "paper"]
"""Latent drift pooling: real tokens only, or the paper's unmasked mean over left padding."""
POOLINGS: Final[tuple[Pooling, ...]] = get_args(Pooling)
