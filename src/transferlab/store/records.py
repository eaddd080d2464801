"""What the store keeps, as the rest of transferlab sees it: keys and records (no SQL here)."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any


def sha(text: str, n: int = 16) -> str:
    """A short hex digest of ``text`` (``n`` hex digits)."""
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def completion_key(model_key: str, benchmark: str, item_id: str, prompt_hash: str, gen_key: str, sample_index: int) -> str:
    """The identity of one completion (32 hex digits). ``gen_key`` already covers the seed."""
    return sha("\x1f".join([model_key, benchmark, item_id, prompt_hash, gen_key, str(sample_index)]), 32)


@dataclass(frozen=True)
class ModelInfo:
    """Which model produced a completion: a name plus a hub revision or a weights fingerprint."""

    name: str
    revision: str | None = None
    fingerprint: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """``name@revision`` (or ``name@fingerprint``): the model part of every completion key."""
        tag = self.revision or self.fingerprint or "unversioned"
        return f"{self.name}@{tag}"


@dataclass(frozen=True)
class CompletionRecord:
    """One stored completion (raw text, finish reason and token counts)."""

    key: str
    model_key: str
    benchmark: str
    item_id: str
    prompt_hash: str
    gen_key: str
    seed: int
    sample_index: int
    text: str
    finish_reason: str
    prompt_tokens: int | None
    completion_tokens: int | None
    run_id: str | None = None
    created: float = 0.0
    token_ids: tuple[int, ...] | None = field(default=None, compare=False)  # kept apart (completion_ids); not read back by completions()


@dataclass(frozen=True)
class ScoreRecord:
    """The verdict of one scorer on one completion.

    ``thinking`` and ``answer`` are the parts of the completion's text the scorer split off; the
    store keeps them as spans of the stored text (not copies) and gives them back whole.
    """

    completion_key: str
    scorer: str
    score: float
    status: str
    extracted: str | None = None
    thinking: str | None = None
    answer: str | None = None
    thinking_status: str | None = None
    details: dict[str, Any] | None = None


def record_dict(record: CompletionRecord | ScoreRecord) -> dict[str, Any]:
    """A record as a plain dict."""
    return asdict(record)
