"""Transfer from per-benchmark scores made elsewhere: a CSV of ``model, benchmark, score[, group]``.

The reading (:func:`read_scores_csv`) and the computing (:func:`ti_from_scores`) are apart, so a
:class:`ScoreTable` from anywhere goes through the same TI. σ_g for v2 comes from a population of
pairs (:func:`transferlab.transfer.ti.study_sigma`): the pair compared, plus ``pairs``.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from transferlab.errors import ConfigError, DataError
from transferlab.groups import GROUPS, Group
from transferlab.options import TIVersion
from transferlab.study.spec import StudySpec
from transferlab.transfer.analysis import StudyAnalysis, analyse_scores
from transferlab.transfer.ti import DEFAULT_DDOF, TransferIndex, resolve_groups, study_sigma, transfer_index

__all__ = ["ScoreTable", "analyse_scores_csv", "read_scores_csv", "ti_from_scores"]


@dataclass(frozen=True)
class ScoreTable:
    """Scores (percent) by model and benchmark, and group overrides by benchmark."""

    scores: dict[str, dict[str, float]]
    groups: dict[str, Group]


def read_scores_csv(path: Path) -> ScoreTable:
    """Load ``model, benchmark, score[, group]`` rows; one-line errors for every malformed input."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
            header = set(rows[0]) if rows else set()
    except OSError as err:
        raise DataError(f"cannot read scores file {str(path)!r}: {err.strerror}", "check the path") from err
    missing = {"model", "benchmark", "score"} - header
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(sorted(missing))}",
            "the CSV needs model,benchmark,score (and optionally group)",
        )
    scores: dict[str, dict[str, float]] = {}
    groups: dict[str, Group] = {}
    for line, row in enumerate(rows, start=2):
        model, bench = (row["model"] or "").strip(), (row["benchmark"] or "").strip()
        if not model or not bench:
            raise DataError(f"{path}:{line}: empty model or benchmark", "fill in both columns")
        score = _score(path, line, row["score"])
        if bench in scores.setdefault(model, {}):
            raise DataError(f"{path}:{line}: second score for {model} on {bench}", "keep one row per pair")
        scores[model][bench] = score
        group = (row.get("group") or "").strip()
        if group:
            if group not in GROUPS:
                raise DataError(f"{path}:{line}: unknown group {group!r}", f"use one of {', '.join(GROUPS)}")
            if groups.get(bench, group) != group:
                raise DataError(f"{path}:{line}: {bench} has two groups", "give each benchmark one group")
            groups[bench] = cast(Group, group)
    resolve_groups(sorted({b for s in scores.values() for b in s}), groups)
    return ScoreTable(scores, groups)


def _score(path: Path, line: int, text: str | None) -> float:
    try:
        value = float((text or "").strip())
    except ValueError:
        raise DataError(f"{path}:{line}: score {text!r} is not a number", "scores are percent") from None
    if not (math.isfinite(value) and 0.0 <= value <= 100.0):
        raise DataError(f"{path}:{line}: score {value} is outside 0-100", "scores are accuracies in percent")
    return value


def ti_from_scores(
    table: ScoreTable,
    base: str,
    tuned: str,
    *,
    version: TIVersion = "v2",
    pairs: list[tuple[str, str]] | None = None,
    sigma: dict[Group, float] | None = None,
    ddof: int = DEFAULT_DDOF,
    min_math_gain: float | None = None,
) -> TransferIndex:
    """TI of ``tuned`` against ``base`` on the benchmarks both have, σ from the population."""
    known = ", ".join(sorted(table.scores))
    for name, role in ((base, "base"), (tuned, "tuned")):
        if name not in table.scores:
            raise DataError(f"{role} model {name!r} is not in the scores", f"models in the file: {known}")
    common = sorted(set(table.scores[base]) & set(table.scores[tuned]))
    dropped = sorted(set(table.scores[base]) ^ set(table.scores[tuned]))
    base_scores = {b: table.scores[base][b] for b in common}
    tuned_scores = {b: table.scores[tuned][b] for b in common}
    sigma_used, source = None, None
    if version == "v2":
        present = set(resolve_groups(common, table.groups).values())
        sigma_used, source = study_sigma(table.scores, pairs or [], table.groups, explicit=sigma, ddof=ddof, present=present, compared=(tuned, base))
    result = transfer_index(
        base_scores,
        tuned_scores,
        table.groups,
        version=version,
        sigma=sigma_used,
        min_math_gain=min_math_gain,
        base_model=base,
        tuned_model=tuned,
        sigma_source=source,
    )
    if dropped:
        note = f"left out (scored for only one of the two models): {', '.join(dropped)}"
        result = dataclasses.replace(result, notes=result.notes + (note,))
    return result


def analyse_scores_csv(
    path: Path, *, pairs: Sequence[tuple[str, str]] = (), sigma: Mapping[Group, float] | None = None, spec: StudySpec | None = None
) -> StudyAnalysis:
    """The report's analysis (points, no intervals) of a scores CSV: ``pairs`` (tuned, base) to
    compare, else the ``spec``'s; the spec also gives groups, training methods and the TI settings."""
    table = read_scores_csv(path)
    groups, training, version, ddof = dict(table.groups), {}, "v2", DEFAULT_DDOF
    pairs = list(pairs)
    if spec is not None:
        groups.update(spec.groups)
        training = {m.name: m.training for m in spec.models}
        pairs = pairs or spec.pairs
        version, ddof = spec.ti.version, spec.ti.ddof
    if not pairs:
        raise ConfigError("no pair to compare", "pass --pairs TUNED:BASE,... or a --spec whose models name their base")
    return analyse_scores(table.scores, pairs, groups, training=training, version=version, ddof=ddof, sigma=sigma, title=path.stem)
