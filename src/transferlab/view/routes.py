"""The viewer's pages: overview, samples, one item, what a tuned model forgot or learned.

Handlers are plain functions (Starlette runs them in its thread pool); each reads the store only
through :class:`~transferlab.view.queries.ViewStore` and renders one template.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from transferlab.view import render
from transferlab.view.queries import VERDICTS, SampleFilter, ViewStore

PAGE_SIZE = 50
SCAN_BUDGET_S = 0.75  # a samples page answers within about 1 s; a longer scan continues by a link


def _vs(request: Request) -> ViewStore:
    return request.app.state.vs


def _pairs(request: Request) -> list[dict[str, Any]]:
    """The store's study pairs, then the pair named on the command line (``--base``/``--tuned``)."""
    return _vs(request).study_pairs() + list(request.app.state.named_pairs)


def _page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    vs = _vs(request)
    base = {"store_path": str(vs.path), "names": vs.study_names(), "drift_folder": request.app.state.drift.folder}
    return request.app.state.templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)


def _int(request: Request, name: str, default: int = 0) -> int:
    raw = request.query_params.get(name, "")
    if not raw:
        return default
    if not raw.isdigit():
        raise HTTPException(400, f"{name} must be a whole number, not {raw!r}")
    return int(raw)


def url(path: str, **params: Any) -> str:
    """``path?query`` with empty parameters left out."""
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return path + ("?" + urlencode(kept) if kept else "")


def healthz(request: Request) -> Response:
    """Liveness: answers once the server is up."""
    return PlainTextResponse("ok")


def not_found(request: Request, exc: Exception) -> Response:
    return _page(request, "error.html", {"message": getattr(exc, "detail", "not found"), "code": 404}, 404)


def bad_request(request: Request, exc: Exception) -> Response:
    return _page(request, "error.html", {"message": getattr(exc, "detail", "bad request"), "code": 400}, 400)


# -- overview ------------------------------------------------------------------------------------
def overview(request: Request) -> Response:
    """Models x benchmarks with CIs, truncation and unclosed thinking; each study's groups and TI."""
    from transferlab.report.tables import summary_tables

    vs = _vs(request)
    current, computing = request.app.state.cache.get()
    facets = vs.facets()
    context: dict[str, Any] = {"computing": computing, "current": current, "error": request.app.state.cache.error, "url": url}
    if current is not None:
        by_cell: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for r in current.results:
            by_cell[(r.model, r.benchmark)].append(r)
        models = list(dict.fromkeys([m["model_key"] for m in facets.models if any(r.model == m["model_key"] for r in current.results)]))
        groups, order = _study_order(current.studies)
        present = {r.benchmark for r in current.results}
        context.update(
            models=models,
            by_cell=by_cell,
            settings=facets.gen_keys,
            groups=groups,
            benchmarks=[b for b in order if b in present] + render.benchmark_order(sorted(present - set(order)), groups),
            several_settings=any(len(v) > 1 for v in by_cell.values()),
            studies={name: (a if isinstance(a, str) else [t.to_html() for t in summary_tables(a)]) for name, a in current.studies.items()},
            analyses={name: a for name, a in current.studies.items() if not isinstance(a, str)},
            pairs=_pairs(request),
        )
    return _page(request, "overview.html", context)


def _study_order(studies: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """The studies' group of each benchmark and their benchmark order (the report's)."""
    groups: dict[str, str] = {}
    order: list[str] = []
    for a in studies.values():
        if not isinstance(a, str):
            groups.update(a.groups)
            order += [b for b in a.benchmarks if b not in order]
    return groups, order


# -- samples -------------------------------------------------------------------------------------
def sample_filter(request: Request) -> SampleFilter:
    """The filters of a samples request, checked."""
    q = request.query_params
    f = SampleFilter(**{name: q.get(name, "").strip() for name in ("model", "benchmark", "gen_key", "verdict", "scorer", "search", "item")})
    if f.verdict and f.verdict not in VERDICTS:
        raise HTTPException(400, f"unknown verdict {f.verdict!r}: use one of {', '.join(VERDICTS)}")
    if len(f.search) > 500:
        raise HTTPException(400, "the search text is longer than 500 characters: search for a shorter part of it")
    return f


def samples(request: Request) -> Response:
    """Filtered samples, a page at a time (see :meth:`ViewStore.samples`)."""
    vs = _vs(request)
    f = sample_filter(request)
    after = _int(request, "after")
    page = vs.samples(f, after=after, limit=PAGE_SIZE, budget_s=SCAN_BUDGET_S)
    params = {k: v for k, v in vars(f).items() if v}
    return _page(
        request,
        "samples.html",
        {
            "f": f,
            "page": page,
            "facets": vs.facets(),
            "verdicts": list(VERDICTS),
            "after": after,
            "url": url,
            "next_url": url("/samples", **params, after=page.next_after) if page.next_after is not None else None,
            "first_url": url("/samples", **params) if after else None,
        },
    )


# -- one item ------------------------------------------------------------------------------------
def item(request: Request) -> Response:
    """The prompt and reference, then each model's samples side by side."""
    vs = _vs(request)
    benchmark, item_id = request.query_params.get("benchmark", ""), request.query_params.get("id", "")
    if not benchmark or not item_id:
        raise HTTPException(400, "name the item: /item?benchmark=NAME&id=ITEM_ID")
    found = vs.item(benchmark, item_id)
    rows = vs.item_samples(benchmark, item_id)
    if found is None and not rows:
        raise HTTPException(404, f"no item {item_id!r} of {benchmark!r} in this store")
    facets = vs.facets()
    chosen = request.query_params.get("scorer") or facets.default_scorer.get(benchmark, "")
    by_column: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    drift = request.app.state.drift
    for r in rows:
        r["chosen"] = next((v for v in r["verdicts"] if v["scorer"] == chosen), None)
        r["drift"] = drift.coloured(r["key"]) if drift.folder else None
        by_column[(r["model_key"], r["gen_key"])].append(r)
    prompts = {r["prompt_hash"]: r["prompt"] for r in rows}
    pairs = _pairs(request)  # bases first, then their tuned models, then any other model
    order = list(dict.fromkeys([p["base_key"] for p in pairs] + [p["tuned_key"] for p in pairs]))
    columns = dict(sorted(by_column.items(), key=lambda kv: (order.index(kv[0][0]) if kv[0][0] in order else len(order), kv[0])))
    return _page(
        request,
        "item.html",
        {
            "benchmark": benchmark,
            "item_id": item_id,
            "item": found,
            "columns": columns,
            "chosen_scorer": chosen,
            "prompts": prompts,
            "settings": facets.gen_keys,
            "url": url,
            "drift_summaries": {mk: drift.summary(mk, benchmark) for mk, _ in columns} if drift.folder else {},
            "drift_without_rows": drift.without_rows,
        },
    )


# -- what did it forget, what did it learn -------------------------------------------------------------
def changes(request: Request) -> Response:
    """Items the base got right and the tuned model wrong (forgot), or the reverse (learned)."""
    vs = _vs(request)
    q = request.query_params
    facets = vs.facets()
    pairs = _pairs(request)
    base, tuned, benchmark = q.get("base", ""), q.get("tuned", ""), q.get("benchmark", "")
    kind = q.get("kind", "forgot")
    if kind not in ("forgot", "learned"):
        raise HTTPException(400, f"kind must be forgot or learned, not {kind!r}")
    if not (base and tuned) and pairs:
        base, tuned = pairs[0]["base_key"], pairs[0]["tuned_key"]
    benchmark = benchmark or (facets.benchmarks[0] if facets.benchmarks else "")
    offset = _int(request, "offset")
    context: dict[str, Any] = {
        "facets": facets,
        "pairs": pairs,
        "base": base,
        "tuned": tuned,
        "benchmark": benchmark,
        "kind": kind,
        "rows": [],
        "gen_keys": [],
        "gen_key": "",
        "offset": offset,
        "url": url,
        "page_size": PAGE_SIZE,
    }
    if base and tuned and benchmark:
        gen_keys = vs.shared_gen_keys(benchmark, base, tuned)
        gen_key = q.get("gen_key") or (gen_keys[0] if gen_keys else "")
        scorer = q.get("scorer") or facets.default_scorer.get(benchmark, "")
        rows = vs.item_changes(benchmark, base, tuned, gen_key, scorer, kind=kind, limit=PAGE_SIZE + 1, offset=offset) if gen_key and scorer else []
        context.update(gen_keys=gen_keys, gen_key=gen_key, scorer=scorer, rows=rows[:PAGE_SIZE], more=len(rows) > PAGE_SIZE)
    return _page(request, "changes.html", context)
