"""IFEval through lm-eval's checkers: the GPT-4 responses against a third-party run of Google's code."""

from __future__ import annotations

import json
import string

import pytest

from transferlab.benchmarks import get_benchmark
from transferlab.benchmarks.ifeval import IFEval, accuracies_from_extracted, decode_check, ifeval_four, ifeval_item
from transferlab.pipeline.score import score_store
from transferlab.scoring.ifeval_checks import PUNKT_FILES, IFEvalCase, check_response, ifeval_accuracies, install_punkt
from transferlab.store import CompletionRecord, ModelInfo, Store


def _jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def items(shared_data):
    return get_benchmark("ifeval").load(shared_data)


@pytest.fixture(scope="module")
def third_party(shared_data):
    folder = shared_data / "ifeval"
    return _jsonl(folder / "eval_results_strict.jsonl"), _jsonl(folder / "eval_results_loose.jsonl")


def _random_letter(item) -> bool:
    """Google's letter_frequency checker draws a random letter when the given "letter" is none."""
    return any(
        i == "keywords:letter_frequency" and kw["letter"] not in string.ascii_letters
        for i, kw in zip(item.reference["instruction_id_list"], item.reference["kwargs"])
    )


def test_loader_and_prompt(items):
    assert len(items) == 541 and len({i.id for i in items}) == 541
    first = items[0]
    assert first.id == "1000" and first.reference["instruction_id_list"] == [
        "punctuation:no_comma",
        "detectable_format:number_highlighted_sections",
        "length_constraints:number_words",
    ]
    assert IFEval().messages(first, "paper") == IFEval().messages(first) == [{"role": "user", "content": first.reference["prompt"]}]
    hub_row = {"key": 7, "prompt": "p", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{"num_words": None, "relation": None}]}
    assert ifeval_item(hub_row).reference["kwargs"] == [{}]


def test_gpt4_responses_match_the_third_party_run_row_by_row(items, third_party):
    strict_rows, loose_rows = third_party
    assert len(strict_rows) == len(loose_rows) == 540
    by_prompt = {i.reference["prompt"]: i for i in items}
    chosen = [by_prompt[r["prompt"]] for r in strict_rows]
    verdicts = IFEval().score(chosen, [r["response"] for r in strict_rows], None)
    checks = [decode_check(v.extracted, len(i.reference["instruction_id_list"])) for v, i in zip(verdicts, chosen)]
    oracle = [
        decode_check(json.dumps({"strict": s["follow_instruction_list"], "loose": lo["follow_instruction_list"]}), 0) for s, lo in zip(strict_rows, loose_rows)
    ]
    assert ifeval_accuracies(oracle)["prompt_level_strict"] == pytest.approx(0.7685, abs=5e-5)

    random_rows = [n for n, item in enumerate(chosen) if _random_letter(item)]
    assert sorted(chosen[n].id for n in random_rows) == ["1122", "1129"]
    fixed = [n for n in range(540) if n not in random_rows]
    mismatched = [chosen[n].id for n in fixed if checks[n] != oracle[n]]
    assert mismatched == []
    assert ifeval_accuracies([checks[n] for n in fixed]) == ifeval_accuracies([oracle[n] for n in fixed])
    for v, check in zip(verdicts, checks):
        assert (v.score, v.status) == (float(check.prompt_strict), "ok")
    # The two random rows differ from the oracle at most by its draw, and are reproducible here.
    for n in random_rows:
        again = check_response(IFEvalCase.from_row({"key": chosen[n].id, **chosen[n].reference}), strict_rows[n]["response"])
        assert again == checks[n]
    ours, theirs = ifeval_accuracies(checks), ifeval_accuracies(oracle)
    assert all(abs(ours[k] - theirs[k]) <= 2 / 540 + 1e-12 for k in ours)


def test_thinking_is_stripped_and_the_four_accuracies_come_back_from_the_store(items, tmp_path):
    no_comma = next(i for i in items if i.reference["instruction_id_list"] == ["punctuation:no_comma"])
    two = next(i for i in items if len(i.reference["instruction_id_list"]) == 2 and i.id != no_comma.id)
    texts = {no_comma.id: "<think>Commas, commas, and more commas.</think>Thou shalt travel to Kyoto and then to Nara", two.id: "<think>never closed"}
    with Store(tmp_path / "s.db") as store:
        model = store.add_model(ModelInfo("m", revision="r"))
        store.add_items("ifeval", [no_comma, two])
        hashes = store.add_prompts(["p0", "p1"])
        store.add_completions(
            [
                CompletionRecord(
                    key=f"k{n}",
                    model_key=model,
                    benchmark="ifeval",
                    item_id=item.id,
                    prompt_hash=hashes[f"p{n}"],
                    gen_key="g",
                    seed=0,
                    sample_index=0,
                    text=texts[item.id],
                    finish_reason="stop",
                    prompt_tokens=None,
                    completion_tokens=None,
                )
                for n, item in enumerate([no_comma, two])
            ]
        )
        score_store(store, show_progress=False)
        rows = {r["item_id"]: r for r in store.rows()}
        references = store.items("ifeval")
    assert (rows[no_comma.id]["score"], rows[no_comma.id]["scorer"], json.loads(rows[no_comma.id]["extracted"])) == (
        1.0,
        "ifeval",
        {"strict": [1], "loose": [1]},
    )
    assert (rows[two.id]["score"], rows[two.id]["score_status"], rows[two.id]["extracted"]) == (0.0, "truncated_thinking", None)
    ids = [no_comma.id, two.id]
    four = accuracies_from_extracted([rows[i]["extracted"] for i in ids], [len(references[i][0]["instruction_id_list"]) for i in ids])
    assert four == {"prompt_level_strict": 0.5, "inst_level_strict": 1 / 3, "prompt_level_loose": 0.5, "inst_level_loose": 1 / 3}
    assert ifeval_four([no_comma, two], [rows[i]["answer"] for i in ids]) == four  # re-checking the stored answers agrees


def test_punkt_tables_are_installed_offline(tmp_path, monkeypatch):
    import nltk
    import punkt
    from nltk.tokenize.punkt import PunktSentenceTokenizer, load_punkt_params

    root = install_punkt(tmp_path)
    folder = root / "tokenizers" / "punkt_tab" / "english"
    assert sorted(p.name for p in folder.iterdir()) == sorted(PUNKT_FILES)
    monkeypatch.setattr(nltk.data, "path", [str(root)])  # only the new folder: what nltk finds is what we wrote
    found = nltk.data.find("tokenizers/punkt_tab/english/")
    assert str(found).rstrip("/") == str(folder)
    params, model = load_punkt_params(found), punkt.load_model("english")
    assert params.abbrev_types == set(model.abbrev_types) and params.ortho_context == dict(model.ortho_context)
    text = "Dr. Smith went to Washington D.C. on Jan. 5. He was tired. Mr. Jones stayed home."
    assert PunktSentenceTokenizer(params).tokenize(text) == punkt.sent_tokenize(text)
    assert len(nltk.sent_tokenize(text)) == 3  # the checkers' tokenizer, found without a download


def test_the_fast_language_detector_agrees_with_langdetect(shared_data):
    import langdetect

    from transferlab.scoring.ifeval_checks import language_detector

    fast = language_detector()
    langdetect.DetectorFactory.seed = 0
    responses = [r["response"] for r in _jsonl(shared_data / "ifeval" / "input_response_data_gpt4_20231107_145030.jsonl")[:20]]
    texts = responses + [t.upper() for t in responses[:5]] + ["Ein, zwei, drei, vier", "Война и мир — роман Льва Толстого."]
    assert [fast.detect(t) for t in texts] == [langdetect.detect(t) for t in texts]
    with pytest.raises(fast.LangDetectException):
        fast.detect("1234")
