"""GPQA-Diamond on the real encrypted zip (never printed), and the shared letter extraction.

No assertion message here shows question text: GPQA must not be written out in plain text.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections import Counter

import pytest

from transferlab.benchmarks import get_benchmark
from transferlab.benchmarks.choices import final_letter, final_yes_no, letters_for, paper_last_letter
from transferlab.benchmarks.gpqa import GPQADiamond, read_encrypted_csv, shuffled_options
from transferlab.errors import DataError


def fingerprint(item) -> tuple[str, str, str]:
    """An item as (id, gold, hash of its options): safe to show when an assertion fails."""
    return item.id, item.reference, hashlib.sha256("\x1f".join(item.fields["options"]).encode()).hexdigest()[:12]


@pytest.fixture(scope="module")
def items(shared_data):
    return GPQADiamond().load(shared_data)


def test_loads_198_items_from_the_encrypted_zip(items, shared_data):
    assert len(items) == 198 and len({i.id for i in items}) == 198
    assert "hidden" in repr(items[0]) and items[0].fields["question"] not in repr(items[0])
    assert sum(i.reference not in "ABCD" or len(i.fields["options"]) != 4 for i in items) == 0
    # Two items repeat an incorrect option in the published data; the correct one is always unique.
    assert sum(i.fields["options"].count(i.fields["options"]["ABCD".index(i.reference)]) != 1 for i in items) == 0
    assert sum(len(set(i.fields["options"])) != 4 for i in items) == 2
    # Nothing was extracted next to the zip.
    assert sorted(p.name for p in (shared_data / "gpqa").iterdir()) == ["SOURCE.md", "dataset.zip"]
    assert [fingerprint(i) for i in get_benchmark("gpqa_diamond").load(shared_data, limit=5)] == [fingerprint(i) for i in items[:5]]


def test_the_correct_option_sits_under_the_gold_letter(items, shared_data):
    rows = {r["Record ID"]: r for r in read_encrypted_csv(shared_data / "gpqa" / "dataset.zip")}
    misplaced = [i.id for i in items if i.fields["options"]["ABCD".index(i.reference)] != rows[i.id]["Correct Answer"].strip()]
    assert misplaced == []


def test_shuffle_is_fixed_per_item_and_balanced(items, shared_data):
    again = GPQADiamond().load(shared_data)
    assert [fingerprint(i) for i in again] == [fingerprint(i) for i in items]
    counts = Counter(i.reference for i in items)
    assert set(counts) == set("ABCD") and max(counts.values()) <= 70 and min(counts.values()) >= 30, counts
    # The order of an item does not depend on the others: loading a subset gives the same options.
    first = read_encrypted_csv(shared_data / "gpqa" / "dataset.zip")[7]
    assert shuffled_options(first)[1] == next(i.reference for i in items if i.id == first["Record ID"])
    other_seed = GPQADiamond(seed=1).load(shared_data)
    assert sum(a.reference != b.reference for a, b in zip(items, other_seed)) > 100
    assert all(b.id.endswith("#per_item1") for b in other_seed)


def test_paper_shuffle_puts_every_answer_under_one_letter(shared_data):
    paper = GPQADiamond(shuffle="paper").load(shared_data)
    assert Counter(i.reference for i in paper) == Counter({"D": 198})  # random.Random(42) per item
    assert all(i.id.endswith("#paper") for i in paper)


def test_prompts(items):
    b = GPQADiamond()
    default = b.messages(items[0])[0]["content"]
    paper = b.messages(items[0], "paper")[0]["content"]
    checks = {  # booleans only, so a failure never prints the question
        "default lists options": "\nA) " in default and "\nD) " in default,
        "default instruction": default.endswith("within \\boxed{}."),
        "paper instruction": paper.startswith("Return your final response within \\boxed{} and only include the letter choice (A, B, C, or D)"),
        "paper options": "\nOptions: A) " in paper and ", D) " in paper,
        "paper ends": paper.endswith("\nAnswer:"),
    }
    assert [name for name, ok in checks.items() if not ok] == []
    with pytest.raises(DataError, match="no prompt style"):
        b.messages(items[0], "fancy")


def test_scoring_final_answer_and_the_papers_lenient_mode(items):
    item = next(i for i in items if i.reference == "B")
    answers = ["reasoning... so the answer is \\boxed{B}", "Answer: C", "I would pick A or B, not sure", "**Final Answer**: (B)"]
    final = GPQADiamond().score([item] * 4, answers, None)
    assert [v.score for v in final] == [1.0, 0.0, 0.0, 1.0]
    assert [v.status for v in final] == ["ok", "ok", "no_answer", "ok"]
    lenient = GPQADiamond(extraction="paper").score([item] * 4, answers, None)
    assert [v.extracted for v in lenient] == ["B", "C", "B", "B"] and GPQADiamond(extraction="paper").scorer == "choice_paper"


def test_a_wrong_password_is_a_data_error(tmp_path, shared_data):
    with pytest.raises(DataError, match="cannot decrypt"):
        read_encrypted_csv(shared_data / "gpqa" / "dataset.zip", password=b"wrong")
    broken = tmp_path / "gpqa"
    broken.mkdir()
    (broken / "dataset.zip").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="cannot decrypt"):
        GPQADiamond().load(tmp_path)
    assert zipfile.is_zipfile(shared_data / "gpqa" / "dataset.zip")


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("so \\boxed{C}.", "C"),
        ("The final answer is $\\boxed{\\text{(A)}}$", "A"),
        ("\\boxed{D) 4.2 eV}", "D"),
        ("Answer: (B)", "B"),
        ("**Answer:** C", "C"),
        ("**Final Answer**: D.", "D"),
        ("the correct answer is option A.", "A"),
        ("Answer: B\n...on reflection the answer is C", "C"),  # the last statement wins
        ("\\boxed{B} ... Answer: C", "B"),  # a box beats a phrase
        ("<think>the answer is A</think>The answer is B", "B"),  # thinking ignored
        ("<think>the answer is \\boxed{A}", None),  # unclosed thinking: no answer
        ("I think B) is right", None),  # no final-answer form
        ("answer is Bob", None),
        ("\\boxed{42}", None),
    ],
)
def test_final_letter(text, letter):
    assert final_letter(text) == letter


def test_paper_last_letter_scans_everything_upper_cased():
    assert paper_last_letter("<think>maybe D</think> I'd say B) but a") == "A"  # "a" counts, as in the study
    assert paper_last_letter("no letters here") is None
    assert final_letter("Answer: E", letters_for(5)) == "E" and final_letter("Answer: E") is None


def test_yes_no():
    assert final_yes_no("**Final Answer**: Yes.") == "yes"
    assert final_yes_no("so the answer is no") == "no"
    assert final_yes_no("\\boxed{\\text{No}}") == "no"
    assert final_yes_no("<think>yes") is None and final_yes_no("Noted.") is None


def test_unknown_settings_are_data_errors():
    with pytest.raises(DataError, match="GPQA has no shuffle"):
        GPQADiamond(shuffle="random")
    with pytest.raises(DataError, match="extraction"):
        GPQADiamond(extraction="loose")
