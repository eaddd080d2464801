"""The crash-safe store: one SQLite file (WAL) holding every completion and every verdict.

Completions are committed as they arrive and never rewritten. A completion's key is a hash of
(model key, benchmark, item id, rendered prompt, sampling settings incl. seed, sample index), so a
killed run resumes by skipping the keys already stored and never generates one twice. Each text is
stored once, compressed (zstd; a dictionary per benchmark where it pays). Verdicts live in their
own table, keyed by (completion, scorer), holding the thinking and answer their scorer split off as
spans of that text, so anything can be re-scored without generating again. Where the backend knows
them, the token ids it generated are kept beside the text (table ``completion_ids``: little-endian
uint32, 4 bytes a token). Several workers on one machine share the missing completions through
leases; stores of several machines are joined by :func:`merge_stores`. docs/store.md describes the
schema, its keys, migration and when to share or merge.

- :mod:`~transferlab.store.records`: keys and records; :mod:`~transferlab.store.schema`: the tables;
- :mod:`~transferlab.store.texts`: compression and spans; :mod:`~transferlab.store.migrate`: version 1 -> 2;
- :mod:`~transferlab.store.base`: the connection; :mod:`~transferlab.store.leases`: work sharing;
- :mod:`~transferlab.store.core`: :class:`Store`; :mod:`~transferlab.store.merge`: joining stores.
"""

from __future__ import annotations

from transferlab.store.core import Cell, Store
from transferlab.store.leases import Claim
from transferlab.store.merge import MergeSummary, merge_stores, vacuum
from transferlab.store.records import CompletionRecord, ModelInfo, ScoreRecord, completion_key, record_dict, sha
from transferlab.store.schema import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "Cell",
    "Claim",
    "CompletionRecord",
    "MergeSummary",
    "ModelInfo",
    "ScoreRecord",
    "Store",
    "completion_key",
    "merge_stores",
    "record_dict",
    "sha",
    "vacuum",
]
