"""The twelve world benchmark names and their groups (no imports: the benchmark registry reads it)."""

from __future__ import annotations

from typing import Final

WORLD_GROUPS: Final[dict[str, str]] = {
    "world_arith": "math", "world_numtheory": "math", "world_equation": "math", "world_multipart": "math",
    "world_plan": "other", "world_trace": "other", "world_deduce": "other", "world_fact": "other",
    "world_format": "non", "world_read": "non", "world_support": "non", "world_time": "non",
}
