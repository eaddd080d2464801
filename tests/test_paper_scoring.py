"""The study's own scorers stay reachable (``score --paper-scoring``) and are stored apart."""

import pytest

from conftest import store_answers
from transferlab.benchmarks import get_benchmark
from transferlab.benchmarks.coqa import coqa_em_f1
from transferlab.cli import main
from transferlab.items import Item
from transferlab.store import Store


def scores_both_ways(path) -> dict[str, list[float]]:
    """Score the store by default and with --paper-scoring; the scores of each scorer."""
    assert main(["score", "--store", str(path)]) == 0
    assert main(["score", "--store", str(path), "--paper-scoring"]) == 0
    by_scorer: dict[str, list[float]] = {}
    with Store(path, readonly=True) as store:
        for row in store.rows():
            by_scorer.setdefault(row["scorer"], []).append(row["score"])
    return by_scorer


def test_halueval_first_line_reading_beside_the_careful_default(shared_data, tmp_path):
    items = get_benchmark("halueval").load(shared_data, limit=6)
    path = tmp_path / "s.db"
    # A judgement whose first line is chatter ("Now..." holds "No" to a substring test).
    store_answers(path, "halueval", items, [f"Now I compare the answer with the knowledge.\n#Your Judgement#: {i.reference}" for i in items])
    by_scorer = scores_both_ways(path)
    assert set(by_scorer) == {"halueval", "halueval-first-line"}
    assert by_scorer["halueval"] == [1.0] * 6  # the final judgement is read
    yes = sum(i.reference.lower() == "yes" for i in items)
    assert 0 < yes < 6
    assert sum(by_scorer["halueval-first-line"]) == 6 - yes  # the paper's reading hears "No" in "Now"


def test_coqa_leave_one_out_beside_the_maximum(shared_data, tmp_path):
    """The study's CoQA score (lm-eval's): each reference left out in turn, the maximum over the
    others averaged; an answer equal to one of several different references loses part of its F1."""
    items = [i for i in get_benchmark("coqa").load(shared_data, limit=40) if len({r.lower() for r in i.reference}) > 2][:3]
    assert len(items) == 3
    path = tmp_path / "s.db"
    store_answers(path, "coqa", items, [f"Answer: {i.reference[1]}" for i in items])
    by_scorer = scores_both_ways(path)
    assert set(by_scorer) == {"coqa-f1", "coqa-f1-loo"}
    assert by_scorer["coqa-f1"] == [1.0] * 3  # the answer is one of the references
    assert all(0 < s < 1 for s in by_scorer["coqa-f1-loo"])


# -- the study's scorers, branch by branch (issue #20, item 8) -------------------------------------
# The expected values are worked out by hand from the study's code (its lm-evaluation-harness fork:
# coqa/utils.py and halueval/utils.py; its evalchemy GPQA testing_utils.py), which reads the whole
# completion: CoQA drops everything up to the last </think> and keeps the first line, HaluEval keeps
# the first line (thinking included), GPQA scans the whole upper-cased text for the last letter.


def paper_scores(tmp_path, benchmark: str, references: list, texts: list[str], prompt_tail: str = "") -> list[tuple[float, str | None]]:
    """Each text stored as an answer to its own synthetic item, scored with --paper-scoring."""
    items = [Item(f"item-{k}", {}, reference) for k, reference in enumerate(references)]
    path = tmp_path / f"{benchmark}.db"
    store_answers(path, benchmark, items, texts, finish=["length"] * len(texts), prompt_tail=prompt_tail)
    assert main(["score", "--store", str(path), "--paper-scoring"]) == 0
    with Store(path, readonly=True) as store:
        rows = {r["item_id"]: r for r in store.rows()}
    return [(rows[i.id]["score"], rows[i.id]["extracted"]) for i in items]


COQA_REFS = ["white", "white kitten"]  # leave one out: "white" scores (2/3 + 1) / 2 in F1, (0 + 1) / 2 in EM
COQA_CASES = [
    ("white", "white", 5 / 6),
    ("<think>It is orange.</think>\n\nwhite kitten\nBecause the story says so.", "white kitten", 5 / 6),  # after </think>, first line
    ("I read it.\n</think>white", "white", 5 / 6),  # a bare </think> (Qwen3's closed prompt) ends the thinking
    ("<think>a</think>orange</think>\n\n\nwhite", "white", 5 / 6),  # the last </think> counts
    ("<think>white\nstill thinking", "<think>white", 0.0),  # unclosed: its first line is read, as the study did
    ("Q: What colour?\nA: white", "Q: What colour?", 0.0),  # the first line, whatever it is
    ("kitten, white!", "kitten, white!", 5 / 6),  # tokens in any order
    ("", "", 0.0),  # an empty answer is read and scored 0
]


def test_coqa_paper_scoring_reads_as_the_study_did(tmp_path):
    texts = [text for text, _, _ in COQA_CASES]
    got = paper_scores(tmp_path, "coqa", [COQA_REFS] * len(texts), texts, prompt_tail="<think>\n\n</think>\n\n")
    assert [extracted for _, extracted in got] == [pred for _, pred, _ in COQA_CASES]
    assert [round(score, 12) for score, _ in got] == [round(f1, 12) for _, _, f1 in COQA_CASES]


def test_coqa_leave_one_out_with_a_reference_that_normalises_to_nothing():
    # ["The", "white"]: leaving out "The" compares "" with "white" (0), leaving out "white" compares
    # "" with "The", empty after normalisation on both sides (1): the study scores an empty answer 0.5.
    assert coqa_em_f1(["The", "white"], "", leave_one_out=True) == (0.5, 0.5)
    assert coqa_em_f1(COQA_REFS, "white", leave_one_out=True) == pytest.approx((0.5, 5 / 6))
    assert coqa_em_f1(COQA_REFS, "kitten white", leave_one_out=True) == pytest.approx((0.0, 5 / 6))
    assert coqa_em_f1(["white"], "white kitten", leave_one_out=True) == pytest.approx((0.0, 2 / 3))


def test_halueval_paper_scoring_reads_the_first_line_of_the_whole_completion(tmp_path):
    cases = [
        ("yes", "Yes", 1.0),
        ("yes", "\n\n  Yes, it is made up.", 1.0),
        ("yes", "<think>No hallucination here?</think>\nYes", 0.0),  # the thinking's first line says No
        ("no", "Now I compare.\nYes", 1.0),  # "Now" holds "No" to the study's substring test
        ("yes", "Yes and No", 0.0),  # both: no verdict
        ("no", "no", 0.0),  # lower case is neither
        ("no", "", 0.0),
    ]
    got = paper_scores(tmp_path, "halueval", [gold for gold, _, _ in cases], [text for _, text, _ in cases])
    assert [score for score, _ in got] == [score for _, _, score in cases]


def test_gpqa_paper_scoring_scans_the_whole_completion(tmp_path):
    cases = [
        ("C", "<think>Is it A? Maybe b.</think> so \\boxed{C}", 1.0),
        ("B", "<think>I lean to a then b", 1.0),  # unclosed thinking is read: its last letter is b
        ("D", "The answer is D. A careful check agrees.", 0.0),  # the article "A" comes last
        ("A", "Final answer: (a)", 1.0),  # upper-cased first
        ("C", "no letter at all", 0.0),
    ]
    got = paper_scores(tmp_path, "gpqa_diamond", [gold for gold, _, _ in cases], [text for _, text, _ in cases])
    assert [score for score, _ in got] == [score for _, _, score in cases]
