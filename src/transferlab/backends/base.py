"""The backend protocol: turn prompts into completions, and texts into log-probabilities.

A backend receives :class:`PromptJob` s (one rendered prompt with the sample slots still to
generate for it) and yields finished completions as soon as they exist, so the caller can commit
each one to the store before the next arrives.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from transferlab.spec import GenerationConfig
from transferlab.store import ModelInfo


@dataclass(frozen=True)
class SampleSlot:
    """One completion to generate: its store key, its index among the k samples, its seed."""

    key: str
    sample_index: int
    seed: int


@dataclass(frozen=True)
class PromptJob:
    """A rendered prompt and the samples still missing for it (they share one prefill)."""

    prompt: str
    slots: tuple[SampleSlot, ...]


@dataclass(frozen=True)
class Completion:
    """A finished completion.

    ``finish_reason`` is ``"stop"`` (end of sequence or a stop string) or ``"length"`` (the token
    budget ran out). ``thinking`` is filled only by backends whose server returns reasoning apart
    from the content. ``token_ids``: the ids the model generated, end-of-sequence excluded, when
    ``text`` is exactly their decoding (``None`` when unknown, or when a stop string cut the text).
    """

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    thinking: str | None = None
    token_ids: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Loglikelihood:
    """The log-probability (nats) of a continuation given a context.

    ``is_greedy``: every continuation token is the argmax at its position.
    """

    logprob: float
    is_greedy: bool
    n_tokens: int


class Backend(Protocol):
    """What every backend provides."""

    model: ModelInfo

    def render(self, messages: Sequence[dict[str, str]], config: GenerationConfig) -> str:
        """Render chat messages into the prompt text the model sees (its own chat template)."""
        ...

    def generate(self, jobs: Sequence[PromptJob], config: GenerationConfig) -> Iterator[list[tuple[SampleSlot, Completion]]]:
        """Generate every slot of every job; yield finished completions in small groups as they end."""
        ...

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[Loglikelihood]:
        """Score ``(context, continuation)`` pairs; results in request order."""
        ...


def completion_from_ids(tokenizer: Any, tokens: Sequence[int], reason: str, prompt_len: int, stops: Sequence[str]) -> Completion:
    """The :class:`Completion` of generated ids (end-of-sequence excluded), decoded as every local
    backend decodes: special tokens skipped, the text cut at the first stop string (then no ids)."""
    text = tokenizer.decode(list(tokens), skip_special_tokens=True)
    ids: tuple[int, ...] | None = tuple(tokens)
    if stops:
        cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
        if cut >= 0:
            text, reason, ids = text[:cut], "stop", None
    return Completion(text=text, finish_reason=reason, prompt_tokens=prompt_len, completion_tokens=len(tokens), token_ids=ids)


def sample_seed(study_seed: int, prompt_hash: str, sample_index: int) -> int:
    """The sampler seed of one completion (63-bit), derived from the study seed, the prompt and k.

    Independent of batch composition and of resume: the same completion always gets the same
    seed, so a rerun reproduces it.
    """
    digest = hashlib.sha256(f"{study_seed}\x1f{prompt_hash}\x1f{sample_index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def render_chat(tokenizer: Any, messages: Sequence[dict[str, str]], config: GenerationConfig) -> str:
    """Apply a Hugging Face tokenizer's chat template, or join raw text when templates are off.

    ``config.system_prompt`` is prepended as a system message; ``config.enable_thinking`` is passed
    to templates that read it (Qwen3).
    """
    messages = list(messages)
    if config.system_prompt and not any(m["role"] == "system" for m in messages):
        messages.insert(0, {"role": "system", "content": config.system_prompt})
    if not config.chat_template or not getattr(tokenizer, "chat_template", None):
        if config.chat_template and tokenizer is not None and not getattr(tokenizer, "chat_template", None):
            from transferlab.errors import ConfigError

            raise ConfigError(
                "this model has no chat template",
                "pass --no-chat-template to send raw prompts, or use a model with a template",
            )
        return "\n\n".join(m["content"] for m in messages)
    kwargs: dict[str, Any] = {}
    if config.enable_thinking is not None:
        kwargs["enable_thinking"] = config.enable_thinking
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, **kwargs)
