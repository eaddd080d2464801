"""Transfer from per-benchmark scores made elsewhere: a CSV of ``model, benchmark, score[, group]``.

The reading (:func:`read_scores_csv`) and the computing (:func:`ti_from_scores`; the report's
analysis, points only: :func:`analyse_scores`) are apart, so a :class:`ScoreTable` from anywhere
goes through the same TI. σ_g for v2 comes from a population of
pairs (:func:`transferlab.transfer.ti.study_sigma`): the pair compared, plus ``pairs``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from transferlab.errors import ConfigError, DataError, TransferlabError
from transferlab.groups import GROUPS, Group, resolve_groups
from transferlab.io import read_text
from transferlab.options import TI_VERSIONS, TIVersion
from transferlab.study.spec import StudySpec
from transferlab.transfer.analysis import Cell, DeltaRow, ModelEntry, PairResult, StudyAnalysis, TIRow
from transferlab.transfer.sigma import DEFAULT_DDOF, study_sigma
from transferlab.transfer.ti import TRANSFER_GROUPS, TransferIndex, transfer_index

__all__ = ["ScoreTable", "analyse_scores", "analyse_scores_csv", "read_scores_csv", "ti_from_scores"]


@dataclass(frozen=True)
class ScoreTable:
    """Scores (percent) by model and benchmark, and group overrides by benchmark."""

    scores: dict[str, dict[str, float]]
    groups: dict[str, Group]


def read_scores_csv(path: Path) -> ScoreTable:
    """Load ``model, benchmark, score[, group]`` rows; one-line errors for every malformed input."""
    rows = list(csv.DictReader(io.StringIO(read_text(path, what="scores file"), newline="")))
    header = set(rows[0]) if rows else set()
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


def analyse_scores(
    scores: Mapping[str, Mapping[str, float]],
    pairs: Sequence[tuple[str, str]],
    groups: Mapping[str, Group] | None = None,
    *,
    training: Mapping[str, str] | None = None,
    version: str = "v2",
    sigma: Mapping[Group, float] | None = None,
    ddof: int = DEFAULT_DDOF,
    title: str = "scores",
) -> StudyAnalysis:
    """The same analysis from per-benchmark scores (percent): points, no intervals."""
    if not pairs:
        raise ConfigError("no (tuned, base) pair given", "pass --pairs TUNED:BASE,... or a --spec naming bases")
    names = sorted({b for s in scores.values() for b in s})
    resolved = resolve_groups(names, groups)
    benchmarks = tuple(sorted(names, key=lambda b: (GROUPS.index(resolved[b]), b)))
    training = dict(training or {})
    tuned_of = dict(pairs)
    models = tuple(ModelEntry(n, n, training.get(n, "other" if n in tuned_of else "base"), tuned_of.get(n)) for n in scores)
    cells = {(m, b): Cell(m, b, resolved[b], float(v)) for m, s in scores.items() for b, v in s.items()}
    notes: list[str] = ["scores from outside the store: points only, no intervals"]
    explicit = dict(sigma or {})
    pair_sigma: dict[Group, float] | None
    try:
        pair_sigma, source = study_sigma(scores, list(pairs), resolved, explicit=explicit, ddof=ddof)
    except TransferlabError as err:
        pair_sigma, source = explicit or None, "given" if explicit else ""
        notes.append(f"σ from the population: {err}")
    results = tuple(_points_pair(scores, t, b, resolved, training.get(t, "other"), pair_sigma) for t, b in pairs)
    return StudyAnalysis(
        title=title,
        models=models,
        benchmarks=benchmarks,
        groups=resolved,
        cells=cells,
        pairs=results,
        primary_version=version,
        sigma=pair_sigma,
        sigma_source=source,
        notes=tuple(notes),
        with_intervals=False,
    )


def _points_pair(
    scores: Mapping[str, Mapping[str, float]], tuned: str, base: str, groups: Mapping[str, Group], training: str, sigma: dict[Group, float] | None
) -> PairResult:
    for name in (tuned, base):
        if name not in scores:
            raise DataError(f"model {name!r} has no scores", f"known models: {', '.join(sorted(scores))}")
    shared = sorted(set(scores[tuned]) & set(scores[base]), key=lambda b: (GROUPS.index(groups[b]), b))
    deltas = tuple(DeltaRow(b, groups[b], float(scores[base][b]), float(scores[tuned][b]), float(scores[tuned][b]) - float(scores[base][b])) for b in shared)
    group_delta: dict[Group, tuple[float, float | None, float | None]] = {}
    for g in GROUPS:
        values = [d.delta for d in deltas if d.group == g]
        if values:
            group_delta[g] = (sum(values) / len(values), None, None)
    ti: dict[str, TIRow] = {}
    for version in TI_VERSIONS:
        if version == "v2" and sigma is None:
            ti[version] = TIRow(version, None, status="not computed", error="σ could not be set (see the notes)")
            continue
        try:
            point = transfer_index(
                {b: scores[base][b] for b in shared},
                {b: scores[tuned][b] for b in shared},
                dict(groups),
                version=version,
                sigma=sigma if version == "v2" else None,
                base_model=base,
                tuned_model=tuned,
            )
            ti[version] = TIRow(version, point, {g: None for g in TRANSFER_GROUPS}, point.status)
        except TransferlabError as err:
            ti[version] = TIRow(version, None, status="not computed", error=str(err))
    return PairResult(tuned, base, training, deltas, group_delta, ti)


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
