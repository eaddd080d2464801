"""The study's own scorers stay reachable (``score --paper-scoring``) and are stored apart."""

from conftest import store_answers
from transferlab.benchmarks import get_benchmark
from transferlab.cli import main
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
