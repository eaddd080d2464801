import pytest

from transferlab.benchmarks import REGISTRY, get_benchmark, parse_benchmarks
from transferlab.benchmarks.math import gsm8k_gold, matharena_answers
from transferlab.errors import DataError

SIZES = {"math500": 500, "aime24": 30, "aime25": 30, "olympiadbench": 675, "gsm8k": 1319}


@pytest.mark.parametrize("name", sorted(SIZES))
def test_loads_the_real_files(shared_data, name):
    items = get_benchmark(name).load(shared_data)
    assert len(items) == SIZES[name]
    assert len({i.id for i in items}) == len(items), "item ids must be unique"
    assert all(i.fields["question"].strip() and i.reference for i in items)


def test_references(shared_data):
    gsm = get_benchmark("gsm8k").load(shared_data, limit=3)
    assert [i.reference for i in gsm] == ["18", "3", "70000"]  # '#### 70,000' loses its comma
    math500 = get_benchmark("math500").load(shared_data, limit=1)[0]
    assert math500.reference == "\\left( 3, \\frac{\\pi}{2} \\right)" and math500.id == "test/precalculus/807.json"
    olymp = {i.id: i for i in get_benchmark("olympiadbench").load(shared_data)}
    multi = [i for i in olymp.values() if i.meta["is_multiple_answer"]]
    assert len(multi) == 94 and all("," in i.reference for i in multi)  # several answers in one string
    assert any(i.meta["unit"] for i in olymp.values())


def test_aime25_answers_agree_with_matharena(shared_data):
    items = {i.id: i.reference for i in get_benchmark("aime25").load(shared_data)}
    for part in ("I", "II"):
        official = matharena_answers(shared_data / "aime25" / "matharena" / f"aime_2025_{part}")
        for number, answer in official.items():
            assert int(items[f"{part}-{number}"]) == int(answer)


def test_prompt_styles(shared_data):
    b = get_benchmark("aime24")
    item = b.load(shared_data, limit=1)[0]
    default = b.messages(item)[0]["content"]
    paper = b.messages(item, "paper")[0]["content"]
    assert default.endswith("put your final answer within \\boxed{}.")
    assert paper.startswith("Solve the following math problem.") and paper.endswith("\nAnswer:")
    assert b.stop("paper") == ("Problem:",) and b.stop("default") == ()
    with pytest.raises(DataError, match="no prompt style"):
        b.messages(item, "fancy")


def test_limit_and_registry():
    assert set(SIZES) <= set(REGISTRY)
    assert [b.name for b in parse_benchmarks("gsm8k, aime24,gsm8k")] == ["gsm8k", "aime24"]
    with pytest.raises(DataError, match="unknown benchmark 'mmlu'"):
        get_benchmark("mmlu")
    with pytest.raises(DataError, match="no benchmark named"):
        parse_benchmarks(" , ")


def test_one_broken_line_in_a_thousand_is_named(shared_data, tmp_path):
    data = tmp_path / "data"
    (data / "gsm8k").mkdir(parents=True)
    lines = (shared_data / "gsm8k" / "test.jsonl").read_text().splitlines()
    lines[516] = lines[516][:40]  # truncate one line mid-way
    (data / "gsm8k" / "test.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"malformed JSON in .*test.jsonl at line 517"):
        get_benchmark("gsm8k").load(data)


def test_missing_file_and_missing_field(shared_data, tmp_path):
    with pytest.raises(DataError, match="not found"):
        get_benchmark("math500").load(tmp_path)
    (tmp_path / "aime24").mkdir()
    (tmp_path / "aime24" / "test.jsonl").write_text('{"id": 1, "problem": "x"}\n')
    with pytest.raises(DataError, match="lacks the field 'answer'"):
        get_benchmark("aime24").load(tmp_path)


def test_gsm8k_gold_needs_hashes():
    assert gsm8k_gold("so 3 + 4 = 7\n#### 1,234") == "1234"
    with pytest.raises(DataError):
        gsm8k_gold("no final line")


def test_hub_rows_have_the_same_shape():
    # the hub layouts (field names) that the loaders accept, as the datasets library returns them
    b = get_benchmark("aime25")
    item = b.to_item({"question": "Find x.", "answer": "70"}, 15)
    assert item.id == "II-1" and item.fields["question"] == "Find x."
    o = get_benchmark("olympiadbench").to_item(
        {"id": 7, "question": "q", "final_answer": ["$1$", "$2$"], "unit": None, "answer_type": "Numerical", "is_multiple_answer": True}, 0
    )
    assert o.reference == ["$1$", "$2$"] and o.meta["unit"] is None
