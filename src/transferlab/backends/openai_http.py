"""The OpenAI-compatible HTTP backend: vLLM serve, SGLang, llama.cpp's server, TGI, ...

    transferlab eval --backend openai --endpoint http://127.0.0.1:8000/v1 --model NAME ...

Two APIs:

- ``chat`` (``/chat/completions``): the server applies the model's chat template.
  :meth:`OpenAIBackend.render` returns the canonical JSON of the messages and the template
  options, which keys the store; ``generate`` sends the messages.
- ``completions`` (``/completions``): prompts are rendered here with a local tokenizer
  (``--tokenizer PATH``) and sent as text; this API also scores log-likelihoods (``echo`` with
  ``logprobs``).

One request per sample slot, with ``seed=slot.seed``: a server that honours seeds (vLLM, SGLang,
llama.cpp) reproduces each sample, whichever other samples are missing. The requests run through
:class:`~transferlab.backends.http_pool.EndpointPool` (concurrency, retries, several endpoints
with work stealing); each completion is handed back the moment it arrives.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from transferlab.backends.base import Completion, Loglikelihood, PromptJob, SampleSlot, render_chat
from transferlab.backends.http_pool import BackendError, EndpointPool, PoolSettings, first_choice
from transferlab.errors import ConfigError
from transferlab.spec import GenerationConfig
from transferlab.store import ModelInfo

APIS = ("chat", "completions")
CHAT_PROMPT_VERSION = 1


def chat_prompt(messages: Sequence[dict[str, str]], config: GenerationConfig) -> str:
    """The canonical JSON of a chat request's prompt part (messages plus template options).

    Deterministic (sorted keys, no whitespace), so the same messages always key the same
    completions; the system prompt of ``config`` is prepended as :func:`render_chat` does.
    """
    msgs = [{"role": m["role"], "content": m["content"]} for m in messages]
    if config.system_prompt and not any(m["role"] == "system" for m in msgs):
        msgs.insert(0, {"role": "system", "content": config.system_prompt})
    template: dict[str, Any] = {}
    if config.enable_thinking is not None:
        template["enable_thinking"] = config.enable_thinking
    blob = {"api": "chat", "v": CHAT_PROMPT_VERSION, "messages": msgs, "chat_template_kwargs": template}
    return json.dumps(blob, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def sampling_payload(config: GenerationConfig, seed: int) -> dict[str, Any]:
    """The sampling fields of one request (OpenAI names; ``seed`` only when sampling)."""
    payload: dict[str, Any] = {"max_tokens": config.max_new_tokens, "temperature": config.temperature, "n": 1}
    if not config.greedy:
        payload["top_p"] = config.top_p
        payload["seed"] = seed
    if config.stop:
        payload["stop"] = list(config.stop)
    for name, value in config.extra:  # server-specific sampling options (top_k, min_p, ...)
        payload[name] = value
    return payload


def parse_completion(choice: dict[str, Any], usage: dict[str, Any] | None, *, chat: bool) -> Completion:
    """A :class:`Completion` from one OpenAI choice and the response's usage block.

    Chat answers may carry the reasoning apart from the content (``reasoning_content`` from vLLM
    and DeepSeek, ``reasoning`` from newer vLLM and others): it is kept as ``thinking``.
    """
    if chat:
        message = choice.get("message") or {}
        text = message.get("content") or ""
        thinking = message.get("reasoning_content") or message.get("reasoning") or None
    else:
        text, thinking = choice.get("text") or "", None
    reason = choice.get("finish_reason")
    finish = "length" if reason == "length" else "stop" if reason in ("stop", "eos", "eos_token", "stop_sequence", None) else str(reason)
    usage = usage or {}
    return Completion(
        text=text,
        finish_reason=finish,
        prompt_tokens=_int(usage.get("prompt_tokens")),
        completion_tokens=_int(usage.get("completion_tokens")),
        thinking=thinking,
    )


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) else 0


def continuation_logprob(logprobs: dict[str, Any], context_chars: int) -> Loglikelihood:
    """Score the continuation from an ``echo`` answer's ``logprobs`` block.

    The continuation's tokens are those whose ``text_offset`` is at or past the end of the
    context; a token that straddles the boundary counts as context. ``is_greedy``: each of those
    tokens has the highest log-probability among the ``top_logprobs`` returned at its position.
    """
    offsets = logprobs.get("text_offset") or []
    token_lps = logprobs.get("token_logprobs") or []
    tops = logprobs.get("top_logprobs") or [None] * len(token_lps)
    picked = [i for i, off in enumerate(offsets) if off >= context_chars]
    if not picked:  # a continuation merged into the context's last token: score that token
        picked = [len(offsets) - 1]
    total, greedy = 0.0, True
    for i in picked:
        lp = token_lps[i]
        if lp is None:
            raise BackendError("the server returned no log-probability for a continuation token", "use a server that supports echo with logprobs")
        total += float(lp)
        top = tops[i] if i < len(tops) else None
        if top:
            greedy = greedy and float(lp) >= max(float(v) for v in top.values()) - 1e-6
    return Loglikelihood(logprob=total, is_greedy=greedy, n_tokens=len(picked))


class OpenAIBackend:
    """Generation and log-likelihoods through OpenAI-compatible servers.

    Args:
        model: the model name the servers know (``"model"`` field of each request).
        endpoints: base URLs ending in ``/v1``; several replicas of the same model share the work.
        api: ``"chat"`` or ``"completions"``.
        tokenizer: a local tokenizer folder or hub id; needed for ``completions`` with chat templates.
        revision: recorded in the store key (a served model's weights cannot be fingerprinted).
        settings: concurrency, timeouts, retries (see :class:`PoolSettings`).
    """

    def __init__(
        self,
        model: str,
        endpoints: Sequence[str],
        *,
        api: str = "chat",
        tokenizer: str | None = None,
        revision: str | None = None,
        settings: PoolSettings = PoolSettings(),
    ) -> None:
        if api not in APIS:
            raise ConfigError(f"unknown API {api!r}", f"use one of {', '.join(APIS)}")
        self.api, self.served_name = api, model
        self.pool = EndpointPool(endpoints, settings)
        self.tokenizer = None
        if tokenizer is not None:
            from transferlab.models import load_tokenizer

            try:
                self.tokenizer = load_tokenizer(tokenizer)
            except (OSError, ValueError) as err:
                raise ConfigError(f"could not load the tokenizer {tokenizer!r}", "pass --tokenizer a local tokenizer folder or a hub id") from err
        self.model = ModelInfo(name=model, revision=revision, info={"backend": "openai", "api": api, "endpoints": list(self.pool.urls), "tokenizer": tokenizer})

    def render(self, messages: Sequence[dict[str, str]], config: GenerationConfig) -> str:
        """Chat API: the canonical JSON of the request; completions API: the local chat template."""
        if self.api == "chat":
            if not config.chat_template:
                raise ConfigError("--no-chat-template sends raw text, which the chat API cannot", "add --api completions")
            return chat_prompt(messages, config)
        if config.chat_template and self.tokenizer is None:
            raise ConfigError(
                "the completions API needs the model's chat template rendered here",
                "pass --tokenizer PATH (the served model's tokenizer), or --no-chat-template",
            )
        return render_chat(self.tokenizer, messages, config)

    def _request(self, prompt: str, config: GenerationConfig, seed: int) -> tuple[str, dict[str, Any]]:
        payload = {"model": self.served_name, **sampling_payload(config, seed)}
        if self.api == "chat":
            blob = json.loads(prompt)
            payload["messages"] = blob["messages"]
            if blob.get("chat_template_kwargs"):
                payload["chat_template_kwargs"] = blob["chat_template_kwargs"]
            return "chat/completions", payload
        payload["prompt"] = prompt
        return "completions", payload

    def generate(self, jobs: Sequence[PromptJob], config: GenerationConfig) -> Iterator[list[tuple[SampleSlot, Completion]]]:
        """One request per slot; yields each group of completions as it arrives."""
        slots = [(job, slot) for job in jobs for slot in job.slots]
        requests = []
        for job in jobs:  # the prompt part is built once per job and shared by its slots
            path, base = self._request(job.prompt, config, 0)
            requests += [(path, {**base, **sampling_payload(config, slot.seed)}) for slot in job.slots]
        chat = self.api == "chat"
        for group in self.pool.run(requests):
            yield [(slots[i][1], parse_completion(first_choice(body, self.pool.urls[0]), body.get("usage"), chat=chat)) for i, body in group]

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[Loglikelihood]:
        """Sum of continuation log-probabilities via the completions API (``echo`` + ``logprobs``).

        OpenAI semantics: ``token_logprobs[i]`` is token ``i`` given the tokens before it (vLLM,
        SGLang). llama-cpp-python 0.3.36 returns them one step late (its issue #1983): do not score
        log-likelihood benchmarks through that server.
        """
        if self.api != "completions":
            raise ConfigError(
                "log-likelihood benchmarks cannot run on the chat API of the openai backend",
                "add --api completions (with a server that returns prompt logprobs, e.g. vLLM serve)",
            )
        payloads = [
            ("completions", {"model": self.served_name, "prompt": c + x, "max_tokens": 1, "temperature": 0.0, "echo": True, "logprobs": 1}) for c, x in requests
        ]
        results: list[Loglikelihood | None] = [None] * len(requests)
        for group in self.pool.run(payloads):
            for i, body in group:
                logprobs = first_choice(body, self.pool.urls[0]).get("logprobs") or {}
                if not logprobs.get("text_offset") or not logprobs.get("token_logprobs"):
                    raise BackendError(
                        "the server returned no prompt log-probabilities (echo with logprobs) for the openai backend",
                        "serve the model with vLLM (or llama-cpp-python with logits_all), or use --backend hf or vllm",
                    )
                results[i] = continuation_logprob(logprobs, len(requests[i][0]))
        assert all(r is not None for r in results)
        return [r for r in results if r is not None]
