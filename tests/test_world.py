"""The mini-world's tasks: verifiers, determinism, disjoint splits, balanced labels, teacher traces."""

from __future__ import annotations

import argparse
from collections import Counter

import pytest

from transferlab.benchmarks import REGISTRY, get_benchmark
from transferlab.groups import BENCHMARK_GROUPS
from transferlab.items import Item
from transferlab.pipeline.score import LazyScoringContext
from transferlab.scoring.thinking import split_thinking
from transferlab.world import FAMILIES, MATH_FAMILIES, teacher_trace, train_items
from transferlab.world import test_items as held_out
from transferlab.world.families import check_math, is_test_question
from transferlab.world.tasks_non import format_constraints

NAMES = {
    "math": ["world_arith", "world_numtheory", "world_equation", "world_multipart"],
    "other": ["world_plan", "world_trace", "world_deduce", "world_fact"],
    "non": ["world_format", "world_read", "world_support", "world_time"],
}


@pytest.fixture(scope="module")
def scoring():
    with LazyScoringContext(workers=1) as context:
        yield context


def verdicts(name, items, answers, context):
    return [v.score for v in get_benchmark(name).score(items, answers, context)]


def test_twelve_families_four_per_group_all_registered():
    assert {g: [n for n, f in FAMILIES.items() if f.group == g] for g in NAMES} == NAMES
    for name, family in FAMILIES.items():
        assert BENCHMARK_GROUPS[name] == family.group and REGISTRY[name].group == family.group
        assert REGISTRY[name].mode == "generate" and REGISTRY[name].stop() == ()


HAND_MADE = {  # (item index 0 of a hand-written item's fields) right answers and wrong answers
    "world_arith": (Item("a", {}, "23", {}), ["\\boxed{23}", "so \\boxed{ 23 }."], ["\\boxed{24}", "23", ""]),
    "world_multipart": (Item("m", {}, ["7", "3"], {}), ["\\boxed{7, 3}", "\\boxed{3,7}"], ["\\boxed{7}", "\\boxed{7, 4}", "7, 3"]),
    "world_plan": (Item("p", {}, "yes", {}), ["yes", "Yes.", "\\boxed{yes}"], ["no", "maybe", ""]),
    "world_trace": (Item("t", {}, "14", {}), ["14", "\\boxed{14}"], ["15", "a = 14", ""]),
    "world_deduce": (Item("d", {}, "C", {}), ["C", "(C)", "c) Rex is a tal."], ["B", "Cat", ""]),
    "world_read": (Item("r", {}, "blue", {}), ["blue", "Blue."], ["red", "blue hat"]),
    "world_time": (Item("s", {}, "no", {}), ["no", "No, it is not."], ["yes", "none"]),
    "world_format": (
        Item("f", {}, "CAT, CAT", {"kind": "repeat", "words": ["cat", "cat"], "sep": ", ", "upper": True}),
        ["CAT, CAT"],
        ["cat, cat", "CAT CAT", "CAT, CAT, CAT", "CAT,CAT"],
    ),
}


@pytest.mark.parametrize("name", sorted(HAND_MADE))
def test_verifiers_on_hand_made_answers(name, scoring):
    item, right, wrong = HAND_MADE[name]
    assert verdicts(name, [item] * len(right), right, scoring) == [1.0] * len(right)
    assert verdicts(name, [item] * len(wrong), wrong, scoring) == [0.0] * len(wrong)


def _wrong(name, item):
    """A wrong answer for any item of a family."""
    ref = item.reference
    if FAMILIES[name].group == "math":
        gold = ref if isinstance(ref, list) else [ref]
        return "\\boxed{" + ", ".join(str(int(g) + 1) for g in gold) + "}"
    if ref in ("yes", "no"):
        return "no" if ref == "yes" else "yes"
    if ref in ("A", "B", "C", "D"):
        return "ABCD"[("ABCD".index(ref) + 1) % 4]
    if name == "world_format":
        return ref + "-x"
    return ref + "0"


@pytest.mark.parametrize("name", list(FAMILIES))
def test_every_family_scores_its_direct_answer_right_and_a_wrong_one_wrong(name, scoring):
    items = held_out(name, 30)
    assert verdicts(name, items, [i.meta["response"] for i in items], scoring) == [1.0] * 30
    assert verdicts(name, items, [_wrong(name, i) for i in items], scoring) == [0.0] * 30


@pytest.mark.parametrize("name", MATH_FAMILIES)
def test_teacher_traces_score_correct_on_200_items(name, scoring):
    items = held_out(name, 200)
    traces = [teacher_trace(i) for i in items]
    assert all(t.startswith("<think>") and "</think>\\boxed{" in t for t in traces)
    assert max(len(t) for t in traces) < 120  # short
    answers = [split_thinking(t, "think").answer for t in traces]
    assert verdicts(name, items, answers, scoring) == [1.0] * 200
    assert verdicts(name, items, traces, scoring) == [1.0] * 200  # the whole trace too
    assert all(check_math(i.reference, i.meta, a)[0] == 1.0 for i, a in zip(items, answers))


def test_teacher_trace_steps_are_worked_operations():
    item = held_out("world_arith", 50)[[len(i.meta["steps"]) for i in held_out("world_arith", 50)].index(3)]
    trace = teacher_trace(item)
    lines = trace.removeprefix("<think>").split("</think>")[0].split("\n")
    assert len(lines) == 3 and all(eval(line.split("=")[0]) == int(line.split("=")[1]) for line in lines)  # eval of the drills' own arithmetic
    with pytest.raises(Exception, match="no worked steps"):
        teacher_trace(held_out("world_read", 1)[0])


@pytest.mark.parametrize("name", list(FAMILIES))
def test_generators_are_deterministic_for_a_seed(name):
    a, b, c = train_items(name, 40, 5), train_items(name, 40, 5), train_items(name, 40, 6)
    assert a == b and a != c
    assert held_out(name, 30) == held_out(name, 30) == held_out(name, 60)[:30]


@pytest.mark.parametrize("name", list(FAMILIES))
def test_train_and_test_are_disjoint(name):
    test_q = {i.fields["question"] for i in held_out(name, 250)}
    assert len(test_q) == 250 and all(is_test_question(q) for q in test_q)
    train_q = [i.fields["question"] for seed in (0, 1) for i in train_items(name, 1500, seed)]
    assert not test_q & set(train_q)


LABELLED = [n for n, f in FAMILIES.items() if f.label_of is not None]


@pytest.mark.parametrize("name", LABELLED)
def test_labels_are_balanced(name):
    counts = Counter(str(i.reference) for i in held_out(name, 250) + train_items(name, 1000, 0))
    shares = {label: n / sum(counts.values()) for label, n in counts.items()}
    expected = 1 / len(shares)
    assert len(shares) in (2, 4)
    assert all(abs(s - expected) < 0.05 for s in shares.values()), shares


def test_math_items_mix_one_step_and_multi_step():
    for name in MATH_FAMILIES:
        steps = Counter(len(i.meta["steps"]) for i in train_items(name, 600, 0))
        assert steps[1] + steps[2] + steps[3] == 600, name
    arith = Counter(len(i.meta["steps"]) for i in train_items("world_arith", 600, 0))
    assert all(arith[k] > 90 for k in (1, 2, 3))
    values = [int(v) for name in MATH_FAMILIES for i in train_items(name, 300, 0) for v in ([i.reference] if isinstance(i.reference, str) else i.reference)]
    assert 0 <= min(values) and max(values) <= 250  # few digits


def test_format_constraints_report_each_instruction():
    meta = {"kind": "list", "words": ["sun", "moon"], "sep": "-", "upper": False}
    assert format_constraints(meta, "sun-moon") == {"words": True, "separator": True, "case": True}
    assert format_constraints(meta, "SUN-MOON") == {"words": True, "separator": True, "case": False}
    assert format_constraints(meta, "moon-sun")["words"] is False
    spell = {"kind": "spell", "word": "cat"}
    assert format_constraints(spell, "c-a-t") == {"spelled": True, "dashes": True}
    [verdict] = get_benchmark("world_format").score([Item("x", {}, "sun-moon", meta)], ["SUN-MOON"], None)
    assert verdict.score == 0.0 and verdict.details == {"words": True, "separator": True, "case": False}


def test_benchmark_load_and_messages():
    bench = get_benchmark("world_equation")
    items = bench.load()
    assert len(items) >= 200 and len({i.id for i in items}) == len(items)
    assert bench.load(limit=10) == items[:10]
    assert bench.messages(items[0]) == [{"role": "user", "content": items[0].fields["question"]}]
    with pytest.raises(Exception, match="prompt style"):
        bench.messages(items[0], "paper")


def test_sample_command_prints_items_and_traces(capsys):
    from transferlab.commands import world

    parser = argparse.ArgumentParser()
    world.register(parser.add_subparsers())
    args = parser.parse_args(["world", "sample", "--family", "world_equation", "--n", "2"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert out.count("--- world_equation") == 2 and "teacher trace: <think>" in out and "Solve for x" in out
    with pytest.raises(Exception, match="unknown world family"):
        args = parser.parse_args(["world", "sample", "--family", "nope"])
        args.func(args)
