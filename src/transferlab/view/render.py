"""Pure helpers the templates use: numbers, labels, verdict badges, the extracted answer's place.

Nothing here builds HTML: the templates escape every value (Jinja2 autoescape), so model output
and references reach the page as text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from transferlab.groups import BENCHMARK_GROUPS, GROUPS

SETTING_LABELS = (("temperature", "T"), ("top_p", "top-p"), ("samples", "k"), ("max_new_tokens", "max"), ("prompt_style", "prompt"))


def pct(value: float | None, digits: int = 1) -> str:
    """``12.3`` (a dash for nothing)."""
    return "—" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def signed(value: float | None, digits: int = 1) -> str:
    """``+1.2`` (a dash for nothing)."""
    return "—" if value is None or not math.isfinite(value) else f"{value:+.{digits}f}"


def interval(low: float | None, high: float | None, digits: int = 1) -> str:
    """``[10.1, 14.2]`` or an empty string."""
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return ""
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def settings_label(gen_key: str, settings: dict[str, Any] | None) -> str:
    """A short label of a settings key: ``T=0.7 k=4 max=2048`` (the key itself when unknown)."""
    if not settings:
        return gen_key[:10]
    parts = [f"{short}={settings[name]}" for name, short in SETTING_LABELS if name in settings and settings[name] not in (None, "default")]
    return " ".join(parts) or gen_key[:10]


def group_of(benchmark: str, groups: dict[str, str] | None = None) -> str:
    """The benchmark's group: the study's own assignment first, then the registry's."""
    return str((groups or {}).get(benchmark) or BENCHMARK_GROUPS.get(benchmark, "?"))


def benchmark_order(benchmarks: list[str], groups: dict[str, str] | None = None) -> list[str]:
    """Benchmarks by group (math, other, non, unknown last), then by name."""
    rank: dict[str, int] = {g: i for i, g in enumerate(GROUPS)}
    return sorted(benchmarks, key=lambda b: (rank.get(group_of(b, groups), len(GROUPS)), b))


def verdict_tags(score: float | None, status: str | None, thinking_status: str | None, finish_reason: str | None) -> list[str]:
    """The verdict filters a sample falls under (see :data:`transferlab.view.queries.VERDICTS`)."""
    tags = []
    if score is None:
        tags.append("unscored")
    else:
        tags.append("right" if score > 0.5 else "wrong")
    if status in ("no_answer", "timeout", "error"):
        tags.append(status)
    if thinking_status == "unclosed":
        tags.append("unclosed")
    if finish_reason == "length":
        tags.append("truncated")
    return tags


@dataclass(frozen=True)
class Highlight:
    """An answer cut around the extracted answer: ``before`` + ``mark`` + ``after``."""

    before: str
    mark: str
    after: str


def highlight(answer: str | None, extracted: str | None) -> Highlight | None:
    """The last place ``extracted`` appears in ``answer`` (None when it does not appear verbatim)."""
    if not answer or not extracted:
        return None
    at = answer.rfind(extracted)
    if at < 0:
        return None
    return Highlight(answer[:at], extracted, answer[at + len(extracted) :])


def model_label(model_key: str, names: dict[str, str]) -> str:
    """The study's name of a model where one is recorded (``sft (sft@1a2b)``), else its key."""
    name = names.get(model_key)
    return f"{name} ({model_key})" if name and name != model_key else model_key
