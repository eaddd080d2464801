"""``transferlab ti --store``: TI with bootstrap CIs from the per-item scores in a store.

A model is named by its study name (when the store holds a study that has it), its store key
(``name@revision``) or the name part of its key when that is unique. Within a study, σ_g comes
from the study's population (its spec's ``ti`` section, or ``--pairs``/``--sigma``); outside one,
from ``--pairs`` (default: the compared pair) on the benchmarks and settings both models share.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import warnings
from typing import Any

from transferlab.groups import GROUPS, Group
from transferlab.commands.ti import ScoreTable, _study_sigma, format_result, parse_pairs, parse_sigma
from transferlab.errors import ConfigError, DataError
from transferlab.transfer.analysis import TIRow, gen_keys, read_cell_rows
from transferlab.store import Store
from transferlab.transfer.ti import TRANSFER_GROUPS, resolve_groups


def run_store(args: argparse.Namespace) -> int:
    """Compute and print TI of ``--tuned`` against ``--base`` from ``--store``."""
    from transferlab.study.run import stored_studies, study_for_store

    with Store(args.store, readonly=True) as store:
        spec, keys = None, {}
        if args.spec or args.study or any(args.tuned in {m.name for m in s.models} for s in stored_studies(store).values()):
            spec, keys = study_for_store(store, args.spec, args.study or _study_of(store, args.tuned))
        if spec is not None and args.tuned in keys and args.base in keys:
            row, deltas = _from_study(store, spec, keys, args)
        else:
            row, deltas = _adhoc(store, args)
    _print(row, deltas, args.json)
    return 0


def _study_of(store: Store, model: str) -> str | None:
    from transferlab.study.run import stored_studies

    names = [n for n, s in stored_studies(store).items() if model in {m.name for m in s.models}]
    return names[-1] if names else None


def _from_study(store: Store, spec: Any, keys: dict[str, str], args: argparse.Namespace) -> tuple[TIRow, list[Any]]:
    from transferlab.transfer.analysis import analyse_store

    if spec.model(args.tuned).base != args.base:
        raise ConfigError(f"in study {spec.name!r}, {args.tuned} is tuned from {spec.model(args.tuned).base}, not {args.base}", f"pass --base {spec.model(args.tuned).base}")
    ti = spec.ti
    if args.sigma:
        ti = dataclasses.replace(ti, sigma={**ti.sigma, **parse_sigma(args.sigma)})
    if args.pairs:
        ti = dataclasses.replace(ti, population=tuple(t for t, _ in parse_pairs(args.pairs)))
    ti = dataclasses.replace(ti, version=args.version, ddof=args.ddof, min_math_gain=args.min_math_gain)
    spec = dataclasses.replace(spec, ti=ti)
    analysis = analyse_store(store, spec, keys, n_resamples=args.resamples, seed=args.seed, only_pairs=[args.tuned])
    if not analysis.pairs:
        raise DataError(f"{args.tuned} or {args.base} has no scored results in the store", "run `transferlab study run` first")
    pair = analysis.pairs[0]
    return pair.ti[args.version], list(pair.deltas)


def resolve_model_key(store: Store, name: str) -> str:
    """A store key from a key or the unique model name before ``@``."""
    keys = [r["model_key"] for r in store.models()]
    if name in keys:
        return name
    matches = [k for k in keys if k.split("@", 1)[0] == name]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise DataError(f"{name!r} matches several stored models ({', '.join(matches)})", "pass the full key name@revision")
    raise DataError(f"no model {name!r} in the store", f"stored models: {', '.join(keys) or 'none'}")


def _common_cells(store: Store, base: str, tuned: str) -> dict[str, str]:
    """``{benchmark: gen_key}`` both models have, with exactly one shared settings key each."""
    benchmarks = {r["benchmark"] for r in store._query("SELECT DISTINCT benchmark FROM completions WHERE model_key=?", (base,))}
    out = {}
    for b in sorted(benchmarks):
        shared = sorted(set(gen_keys(store, base, b)) & set(gen_keys(store, tuned, b)))
        if len(shared) > 1:
            raise DataError(f"{b}: both models have completions under {len(shared)} settings", "pass --spec to choose a study's settings")
        if shared:
            out[b] = shared[0]
    if not out:
        raise DataError(f"{base} and {tuned} share no benchmark under the same settings", "evaluate both with the same settings (transferlab study run)")
    return out


def _adhoc(store: Store, args: argparse.Namespace) -> tuple[TIRow, list[Any]]:
    from transferlab.transfer.analysis import DeltaRow
    from transferlab.transfer.stats import ti_bootstrap

    base, tuned = resolve_model_key(store, args.base), resolve_model_key(store, args.tuned)
    cells = _common_cells(store, base, tuned)
    population = [(resolve_model_key(store, t), resolve_model_key(store, b)) for t, b in (parse_pairs(args.pairs) if args.pairs else [])]
    items: dict[str, dict[str, Any]] = {}
    for model in {base, tuned, *(m for p in population for m in p)}:
        items[model] = {b: read_cell_rows(store, model, b, gk)[0] for b, gk in cells.items()}
        items[model] = {b: v for b, v in items[model].items() if v}
    common = sorted(set(items[base]) & set(items[tuned]))
    groups = resolve_groups(common)
    scores = {m: {b: 100 * sum(sum(v) / len(v) for v in by.values()) / len(by) for b, by in bench.items()} for m, bench in items.items()}
    sigma = None
    if args.version == "v2":
        sigma, _ = _study_sigma(ScoreTable(scores, dict(groups)), base, tuned, common, population, parse_sigma(args.sigma) if args.sigma else {}, args.ddof)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        boot = ti_bootstrap({b: items[base][b] for b in common}, {b: items[tuned][b] for b in common}, groups,
                            version=args.version, sigma=sigma, ddof=args.ddof, min_math_gain=args.min_math_gain,
                            n_resamples=args.resamples, seed=args.seed)
    point = dataclasses.replace(boot.point, base_model=base, tuned_model=tuned)
    deltas = [DeltaRow(r.benchmark, r.group, r.base, r.tuned, r.delta, *boot.benchmark_delta_ci[r.benchmark]) for r in point.benchmarks]
    return TIRow(args.version, point, dict(boot.ti_ci), boot.status), deltas


def _print(row: TIRow, deltas: list[Any], as_json: bool) -> None:
    if row.point is None:
        raise DataError(f"TI {row.version} could not be computed: {row.error}", "set σ with --sigma or use --version v1")
    if as_json:
        data = row.point.to_dict()
        data["status"] = row.status
        data["ti_ci"] = {g: list(ci) if ci else None for g, ci in row.ci.items()}
        data["delta_ci"] = {d.benchmark: [d.low, d.high] for d in deltas}
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return
    print(format_result(row.point))
    print("")
    for d in deltas:
        print(f"Δ {d.benchmark:<14} {d.delta:+7.2f}  95% CI [{d.low:+.2f}, {d.high:+.2f}]" + (f"  p={d.p_value:.3g}" if getattr(d, "p_value", None) is not None else ""))
    for g in TRANSFER_GROUPS:
        ci = row.ci.get(g)
        print(f"TI_{g} 95% CI: " + (f"[{ci[0]:.1f}, {ci[1]:.1f}]" if ci else "— (undefined)"))
    print(f"status with intervals: {row.status}")


__all__ = ["run_store", "resolve_model_key", "GROUPS", "Group"]
