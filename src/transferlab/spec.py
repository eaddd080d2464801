"""Generation settings: one frozen dataclass, hashed into the store's keys.

Two completions are comparable only when they were produced under the same
:class:`GenerationConfig`; its :meth:`GenerationConfig.key` is part of every completion's key.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from transferlab.errors import ConfigError
from transferlab.options import THINKING_REQUESTS, ThinkingRequest


@dataclass(frozen=True)
class GenerationConfig:
    """How completions are sampled and how prompts are rendered.

    Attributes:
        samples: completions per prompt (k), sharing one prefill.
        temperature: softmax temperature; 0 means greedy decoding.
        top_p: nucleus mass kept when sampling (1.0 keeps everything).
        max_new_tokens: the token budget of each completion; hitting it gives finish reason "length".
        seed: the study seed; each completion's sampler is seeded from it, the prompt and the
            sample index, so a rerun or a resume reproduces the same samples.
        stop: strings that end a completion (excluded from the text).
        chat_template: apply the model's own chat template (False: raw text prompts).
        enable_thinking: passed to templates that support it (Qwen3); None leaves the default.
        system_prompt: an optional system message.
        prompt_style: which of a benchmark's prompt formats to render ("default" or "paper", ...).
        thinking_parser: "auto", "think", "think-end" or "none" (see scoring.thinking).
    """

    samples: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 2048
    seed: int = 0
    stop: tuple[str, ...] = ()
    chat_template: bool = True
    enable_thinking: bool | None = None
    system_prompt: str | None = None
    prompt_style: str = "default"
    thinking_parser: ThinkingRequest = "auto"
    extra: tuple[tuple[str, Any], ...] = field(default=())

    def __post_init__(self) -> None:
        self._check_types()
        if self.samples < 1:
            raise ConfigError(f"samples must be at least 1, got {self.samples}", "pass --samples 1 or more")
        if self.temperature < 0:
            raise ConfigError(f"temperature must be >= 0, got {self.temperature}", "use 0 for greedy decoding")
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"top_p must be in (0, 1], got {self.top_p}", "use 1.0 to keep every token")
        if self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}", "pass --max-new-tokens 1 or more")
        if self.thinking_parser not in THINKING_REQUESTS:
            raise ConfigError(f"unknown thinking parser {self.thinking_parser!r}", "choose auto, think, think-end or none")

    def _check_types(self) -> None:
        """Every setting of the right type (a YAML spec or a stored run can hold anything), every
        number finite: ``temperature: nan`` would otherwise become a new settings key."""
        for name in ("samples", "max_new_tokens", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{name} must be a whole number, got {value!r}", f"use e.g. {getattr(GenerationConfig, name)}")
        for name, example in (("temperature", "0 (greedy) or 0.7"), ("top_p", "1.0 (keep every token) or 0.95")):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ConfigError(f"{name} must be a finite number, got {value!r}", f"use e.g. {example}")
        optional = {"enable_thinking": bool, "system_prompt": str}
        for name, kind in {"chat_template": bool, "prompt_style": str, "thinking_parser": str, **optional}.items():
            value = getattr(self, name)
            if not isinstance(value, kind) and not (name in optional and value is None):
                raise ConfigError(f"{name} must be {'true or false' if kind is bool else 'text'}, got {value!r}", "check the type of the value")
        if not isinstance(self.stop, tuple) or not all(isinstance(s, str) for s in self.stop):
            raise ConfigError(f"stop must be a list of strings, got {self.stop!r}", 'write e.g. stop: ["Question:"]')
        if not isinstance(self.extra, tuple) or not all(isinstance(kv, tuple) and len(kv) == 2 for kv in self.extra):
            raise ConfigError(f"extra must be a list of [name, value] pairs, got {self.extra!r}", "write e.g. extra: [[min_p, 0.05]]")

    @property
    def greedy(self) -> bool:
        """True for greedy decoding (temperature 0)."""
        return self.temperature == 0

    def sampling_dict(self) -> dict[str, Any]:
        """The settings that change what is generated for a given rendered prompt.

        ``samples`` is not part of it: sample ``i`` of a run with k=8 is the same completion as
        sample ``i`` of a run with k=4, so raising k later only generates the new samples.
        Prompt rendering settings are not part of it either: they are in the rendered prompt.
        """
        data = asdict(self)
        for name in ("samples", "chat_template", "enable_thinking", "system_prompt", "prompt_style", "thinking_parser"):
            data.pop(name)
        data["stop"] = list(self.stop)
        data["extra"] = [list(kv) for kv in self.extra]
        if self.greedy:  # top_p and seed do not change greedy decoding
            data["top_p"] = 1.0
            data["seed"] = 0
        return data

    def key(self) -> str:
        """A short stable hash of :meth:`sampling_dict` (16 hex digits)."""
        blob = json.dumps(self.sampling_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """Every setting, JSON-ready."""
        data = asdict(self)
        data["stop"] = list(self.stop)
        data["extra"] = [list(kv) for kv in self.extra]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationConfig:
        """Build from a mapping (a YAML study spec, a stored run); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown generation setting(s): {', '.join(unknown)}", f"use only {', '.join(sorted(known))}")
        values = dict(data)
        if isinstance(values.get("stop"), (list, tuple)) or values.get("stop") is None and "stop" in values:
            values["stop"] = tuple(values["stop"] or ())
        if isinstance(values.get("extra"), (list, tuple)) or values.get("extra") is None and "extra" in values:
            values["extra"] = tuple(tuple(kv) if isinstance(kv, (list, tuple)) else kv for kv in values["extra"] or ())
        return cls(**values)

    def with_overrides(self, **overrides: Any) -> GenerationConfig:
        """A copy with the given settings replaced (None values are ignored)."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})
