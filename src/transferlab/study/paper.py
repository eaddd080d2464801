"""The paper's model pairs (PAPER.md section 2) with their Hugging Face ids: a start for a study.

Each :class:`PaperPair` is a tuned model, the checkpoint it was tuned from, and how it was trained
(RL, SFT). Ids were checked against the hub's model pages where the pages could be found
(``verified=True``); the others follow their family's naming and are marked ``verified=False``
(check them before a long run: ``huggingface-cli repo info ID``). ``source`` says where the pair
comes from: PAPER.md's list, or an addition from the same families that the paper's audit of
"20+ public pairs" covers but PAPER.md does not name.

``configs/paper-audit.yaml`` and ``configs/paper-controlled.yaml`` are :func:`study_dict` of
:data:`AUDIT` and :data:`CONTROLLED`; ``tests/test_paper_registry.py`` keeps them in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from transferlab.errors import ConfigError


@dataclass(frozen=True)
class PaperModel:
    """A checkpoint: a short name (used in tables) and its hub id."""

    name: str
    hf: str
    verified: bool = True


@dataclass(frozen=True)
class PaperPair:
    """A tuned model and its base. ``training``: RL, SFT or other."""

    tuned: PaperModel
    base: PaperModel
    training: str
    source: str = "PAPER.md"


# --- bases -------------------------------------------------------------------------------------
QWEN25_15B = PaperModel("Qwen2.5-1.5B", "Qwen/Qwen2.5-1.5B")
QWEN25_7B = PaperModel("Qwen2.5-7B", "Qwen/Qwen2.5-7B")
QWEN25_14B = PaperModel("Qwen2.5-14B", "Qwen/Qwen2.5-14B")
QWEN25_32B = PaperModel("Qwen2.5-32B", "Qwen/Qwen2.5-32B")
LLAMA31_8B = PaperModel("Llama-3.1-8B", "meta-llama/Llama-3.1-8B")  # gated on the hub
QWEN25_MATH_15B = PaperModel("Qwen2.5-Math-1.5B", "Qwen/Qwen2.5-Math-1.5B")
QWEN25_MATH_7B = PaperModel("Qwen2.5-Math-7B", "Qwen/Qwen2.5-Math-7B")
QWEN25_7B_INSTRUCT = PaperModel("Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct")
QWEN25_32B_INSTRUCT = PaperModel("Qwen2.5-32B-Instruct", "Qwen/Qwen2.5-32B-Instruct")
QWEN3_14B_BASE = PaperModel("Qwen3-14B-Base", "Qwen/Qwen3-14B-Base")
MISTRAL_SMALL_24B = PaperModel("Mistral-Small-24B-Instruct", "mistralai/Mistral-Small-24B-Instruct-2501")


def _pair(name: str, hf: str, base: PaperModel, training: str, *, verified: bool = True, source: str = "PAPER.md") -> PaperPair:
    return PaperPair(PaperModel(name, hf, verified), base, training, source)


_ADDED = "added: same family as the audit, not named in PAPER.md"

# The controlled experiment (PAPER.md section 3): one base, three math-only tunings.
CONTROLLED: Final[tuple[PaperPair, ...]] = (
    _pair("UniReason-RL", "ReasoningTransferability/UniReason-Qwen3-14B-RL", QWEN3_14B_BASE, "RL"),
    _pair("UniReason-think-SFT", "ReasoningTransferability/UniReason-Qwen3-14B-think-SFT", QWEN3_14B_BASE, "SFT"),
    _pair("UniReason-no-think-SFT", "ReasoningTransferability/UniReason-Qwen3-14B-no-think-SFT", QWEN3_14B_BASE, "SFT"),
)

# The audit of public pairs (PAPER.md section 2), plus close relatives to reach the paper's "20+".
AUDIT: Final[tuple[PaperPair, ...]] = (
    # SimpleRL-Zoo (hkust-nlp): zero-RL from the base checkpoints. The 14B page was found on the hub;
    # the others follow the same naming (Qwen-2.5-Math-7B-SimpleRL-Zoo appears in the paper's eval script).
    _pair("SimpleRL-Zoo-1.5B", "hkust-nlp/Qwen-2.5-1.5B-SimpleRL-Zoo", QWEN25_15B, "RL", verified=False),
    _pair("SimpleRL-Zoo-7B", "hkust-nlp/Qwen-2.5-7B-SimpleRL-Zoo", QWEN25_7B, "RL", verified=False),
    _pair("SimpleRL-Zoo-14B", "hkust-nlp/Qwen-2.5-14B-SimpleRL-Zoo", QWEN25_14B, "RL"),
    _pair("SimpleRL-Zoo-Llama-3.1-8B", "hkust-nlp/Llama-3.1-8B-SimpleRL-Zoo", LLAMA31_8B, "RL", verified=False),
    _pair("SimpleRL-Zoo-Math-7B", "hkust-nlp/Qwen-2.5-Math-7B-SimpleRL-Zoo", QWEN25_MATH_7B, "RL", source="the paper's evalchemy script"),
    _pair("SimpleRL-Zoo-32B", "hkust-nlp/Qwen-2.5-32B-SimpleRL-Zoo", QWEN25_32B, "RL", verified=False, source=_ADDED),
    # Distillation (SFT on R1 traces).
    _pair("DeepSeek-R1-Distill-Qwen-7B", "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", QWEN25_MATH_7B, "SFT"),
    _pair("DeepSeek-R1-Distill-Qwen-1.5B", "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", QWEN25_MATH_15B, "SFT", source=_ADDED),
    _pair("DeepSeek-R1-Distill-Qwen-14B", "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B", QWEN25_14B, "SFT", source=_ADDED),
    _pair("DeepSeek-R1-Distill-Qwen-32B", "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", QWEN25_32B, "SFT", source=_ADDED),
    # SFT from Qwen2.5-7B-Instruct.
    _pair("OpenThinker3-7B", "open-thoughts/OpenThinker3-7B", QWEN25_7B_INSTRUCT, "SFT"),
    _pair("s1.1-7B", "simplescaling/s1.1-7B", QWEN25_7B_INSTRUCT, "SFT"),
    # From Qwen3-14B-Base: General-Reasoner (RL on diverse verifiable data) and the paper's own models.
    _pair("General-Reasoner-14B", "TIGER-Lab/General-Reasoner-Qwen3-14B", QWEN3_14B_BASE, "RL", verified=False),
    *CONTROLLED,
    # SFT from Qwen2.5-32B-Instruct; RL (DAPO) from Qwen2.5-32B.
    _pair("LIMO-32B", "GAIR/LIMO", QWEN25_32B_INSTRUCT, "SFT"),
    _pair("OpenThinker2-32B", "open-thoughts/OpenThinker2-32B", QWEN25_32B_INSTRUCT, "SFT", verified=False),
    _pair("s1.1-32B", "simplescaling/s1.1-32B", QWEN25_32B_INSTRUCT, "SFT", verified=False),
    _pair("DAPO-32B", "BytedTsinghua-SIA/DAPO-Qwen-32B", QWEN25_32B, "RL"),
    # Reasoning SFT of Mistral-Small-24B-Instruct-2501 (OpenR1-Math-220k and s1K-1.1).
    _pair("Mistral-Small-24B-reasoning", "yentinglin/Mistral-Small-24B-Instruct-2501-reasoning", MISTRAL_SMALL_24B, "SFT"),
)

# The paper's benchmarks (PAPER.md section 1), in group order.
PAPER_BENCHMARKS: Final[tuple[str, ...]] = (
    "math500",
    "aime24",
    "aime25",
    "olympiadbench",
    "gpqa_diamond",
    "livecodebench",
    "acpbench",
    "headqa",
    "coqa",
    "ifeval",
    "halueval",
    "mctaco",
)

# The paper's generation settings for reasoning models: T=0.7 sampling, long budgets (AIME, GPQA,
# MATH-500). Where the paper used other settings (PAPER.md section 1), the benchmark has its own
# (``paper_overrides``): the mean of 10 samples on AIME and of 3 on GPQA, greedy decoding on
# OlympiadBench, ACPBench, CoQA and IFEval. HeadQA and MC-TACO are scored by log-likelihood.
PAPER_GENERATION: Final[dict[str, Any]] = {
    "samples": 1,
    "temperature": 0.7,
    "top_p": 1.0,
    "max_new_tokens": 32768,
    "seed": 0,
    "chat_template": True,
    "prompt_style": "paper",
    "thinking_parser": "auto",
}
PAPER_GREEDY: Final[tuple[str, ...]] = ("olympiadbench", "acpbench", "coqa", "ifeval")
PAPER_SAMPLES: Final[dict[str, int]] = {"aime24": 10, "aime25": 10, "gpqa_diamond": 3}


def paper_overrides(samples: int) -> dict[str, dict[str, Any]]:
    """The paper's per-benchmark settings for a study sampling ``samples`` times elsewhere: greedy
    benchmarks once at temperature 0, AIME and GPQA at least as often as the paper did."""
    overrides: dict[str, dict[str, Any]] = {b: {"samples": max(k, samples)} for b, k in PAPER_SAMPLES.items() if k > samples}
    overrides.update({b: {"temperature": 0.0, "samples": 1} for b in PAPER_GREEDY})
    return {b: overrides[b] for b in PAPER_BENCHMARKS if b in overrides}


def pair_by_name(tuned: str) -> PaperPair:
    """The registry's pair whose tuned model is called ``tuned``."""
    for p in AUDIT:
        if p.tuned.name == tuned:
            return p
    raise ConfigError(f"no paper pair named {tuned!r}", f"choose from {', '.join(p.tuned.name for p in AUDIT)}")


def study_dict(name: str, pairs: tuple[PaperPair, ...], *, description: str = "", generation: dict[str, Any] | None = None, samples: int = 1) -> dict[str, Any]:
    """A study spec (as the mapping a YAML file holds) comparing each pair, bases listed once."""
    models: list[dict[str, Any]] = []
    seen: set[str] = set()
    for p in pairs:
        if p.base.name not in seen:
            seen.add(p.base.name)
            models.append({"name": p.base.name, "hf": p.base.hf, "training": "base"})
        models.append({"name": p.tuned.name, "hf": p.tuned.hf, "base": p.base.name, "training": p.training})
    gen = dict(generation or PAPER_GENERATION)
    gen["samples"] = samples
    return {
        "name": name,
        "description": description,
        "models": models,
        "benchmarks": list(PAPER_BENCHMARKS),
        "generation": gen,
        "generation_overrides": paper_overrides(samples),
        "backend": {"kind": "hf", "dtype": "bfloat16", "batch_size": 64},
        "ti": {"version": "v2", "ddof": 1},
    }
