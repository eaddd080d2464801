"""HaluEval (qa, dialogue, summarization): is this answer hallucinated? Yes or No.

Items are the ``*_samples`` form the study scored (``pminervini/HaluEval`` configs ``qa_samples``,
``dialogue_samples``, ``summarization_samples``): the knowledge, the question / dialogue / document,
ONE answer, and the label ``"yes"`` when that answer is the hallucinated one. Loaded from the raw
files (``shared/data/halueval/*_data.jsonl.gz``: a right and a hallucinated answer per row), each
row keeps one of its two answers, chosen by a generator seeded with ``seed`` and the task name, so
the build is the same on every machine. 3 x 10,000 items, ids ``qa-0`` ... ``summarization-9999``.

Prompt styles:

- ``paper``: the HaluEval judge prompt (the study's lm-eval task, after RUCAIBox/HaluEval's
  ``evaluate.py``): instructions with worked examples, then ``#Knowledge: ...``, the question or
  dialogue or document, the answer, and ``#Your Judgement#:``.
- ``default``: the same, asking for the judgement on its own last line, for models that reason first.

Verdicts (thinking already removed):

- default (:func:`judgement`): the last ``#Your Judgement#: Yes/No`` (or ``Judgement: ...``), else the
  last boxed / "Answer: ..." yes-no, else the answer must hold exactly one of Yes/No as a word (any
  case, any number of times): holding both, or neither, is no verdict and scores 0.
- ``first_line_only=True`` (:func:`paper_first_line`): the study's scorer, kept to compare with its
  numbers: only the first line of the whole completion is read (thinking included, as the study's
  code did), ``"Yes"``/``"No"`` as case-sensitive substrings (so "Now" reads as No), exactly one
  of them.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transferlab.benchmarks.base import load_hub, require_fields, take
from transferlab.benchmarks.choices import final_yes_no
from transferlab.errors import DataError
from transferlab.groups import Group
from transferlab.io import read_jsonl
from transferlab.items import Item, ScoringContext, Verdict

Row = dict[str, Any]
TASKS = ("qa", "dialogue", "summarization")

# raw file fields -> (right answer, hallucinated answer, the sample's answer field)
_RAW = {
    "qa": ("right_answer", "hallucinated_answer", "answer"),
    "dialogue": ("right_response", "hallucinated_response", "response"),
    "summarization": ("right_summary", "hallucinated_summary", "summary"),
}
_CONTEXT = {"qa": ("knowledge", "question"), "dialogue": ("knowledge", "dialogue_history"), "summarization": ("document",)}
_YES_NO_WORD = re.compile(r"\b(yes|no)\b", re.IGNORECASE)
_JUDGEMENT = re.compile(r"judge?ment\W{0,6}\s*(?:is\s*)?\W{0,4}(yes|no)\b", re.IGNORECASE)
DEFAULT_ASK = 'Give your judgement as the last line of your reply, exactly "#Your Judgement#: Yes" or "#Your Judgement#: No".'


# --------------------------------------------------------------------------------------------
# Verdicts
# --------------------------------------------------------------------------------------------


def sole_yes_no(text: str) -> str | None:
    """``"yes"``/``"no"`` when the text holds exactly one of the two words (any case), else ``None``."""
    found = {m.group(1).lower() for m in _YES_NO_WORD.finditer(text)}
    return found.pop() if len(found) == 1 else None


def judgement(answer: str) -> str | None:
    """The default HaluEval verdict (see the module docstring), or ``None``."""
    marked = list(_JUDGEMENT.finditer(answer))
    if marked:
        return marked[-1].group(1).lower()
    return final_yes_no(answer) or sole_yes_no(answer)


def paper_first_line(answer: str) -> str | None:
    """The study's verdict: the first line, case-sensitive substrings, exactly one of Yes/No."""
    first = answer.strip().split("\n")[0]
    has_yes, has_no = "Yes" in first, "No" in first
    if has_yes == has_no:
        return None
    return "yes" if has_yes else "no"


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def build_samples(task: str, rows: Sequence[Row], seed: int) -> list[Row]:
    """The ``{task}_samples`` rows from raw rows: each keeps its right or its hallucinated answer.

    The choice is a fair coin per row from ``random.Random(f"halueval:{task}:{seed}")``, in file order.
    """
    right, wrong, field = _RAW[task]
    rng = random.Random(f"halueval:{task}:{seed}")
    samples = []
    for row in rows:
        hallucinated = rng.random() < 0.5
        sample = {k: row[k] for k in _CONTEXT[task]}
        sample[field] = row[wrong] if hallucinated else row[right]
        sample["hallucination"] = "yes" if hallucinated else "no"
        samples.append(sample)
    return samples


def halueval_item(task: str, sample: Row, index: int) -> Item:
    """One sample as an item; the reference is ``"yes"`` (hallucinated) or ``"no"``."""
    label = str(sample["hallucination"]).strip().lower()
    if label not in ("yes", "no"):
        raise DataError(f"HaluEval {task} row {index + 1} has the label {label!r}", "labels must be yes or no")
    fields = {k: sample[k] for k in (*_CONTEXT[task], _RAW[task][2])}
    return Item(f"{task}-{index}", {"task": task, **fields}, label, {"task": task})


def judge_prompt(item: Item) -> str:
    """The study's judge prompt for an item (ends with ``#Your Judgement#:``)."""
    f, task = item.fields, item.fields["task"]
    if task == "qa":
        body = f"#Knowledge: {f['knowledge']}\n#Question#: {f['question']}\n#Answer#: {f['answer']}"
    elif task == "dialogue":
        body = f"#Knowledge: {f['knowledge']}\n#Dialogue History#: {f['dialogue_history']}\n#Response#: {f['response']}"
    else:
        body = f"#Document#: {f['document']}\n#Summary#: {f['summary']}"
    return f"{INSTRUCTIONS[task]}\n\n{body}\n#Your Judgement#:"


@dataclass(frozen=True)
class HaluEval:
    """HaluEval's three ``*_samples`` tasks as one benchmark (see the module docstring)."""

    seed: int = 0
    first_line_only: bool = False
    tasks: tuple[str, ...] = TASKS
    name: str = "halueval"
    group: Group = "non"
    hf_id: str = "pminervini/HaluEval"
    hf_split: str = "data"
    prompt_styles: tuple[str, ...] = ("default", "paper")
    mode: str = "generate"

    @property
    def scorer(self) -> str:
        """``halueval`` (default verdict) or ``halueval-first-line`` (the study's)."""
        return "halueval-first-line" if self.first_line_only else "halueval"

    @property
    def raw_completion(self) -> bool:
        """The study's scorer (``first_line_only``) reads the whole completion, as the study's code did."""
        return self.first_line_only

    def load(self, data_dir: Path | None = None, limit: int | None = None) -> list[Item]:
        """Every task's samples, built from ``data_dir/halueval/{task}_data.jsonl.gz`` or from the hub."""
        items: list[Item] = []
        for task in self.tasks:
            if data_dir is not None:
                path = Path(data_dir) / "halueval" / f"{task}_data.jsonl.gz"
                raw = list(read_jsonl(path))
                for row in raw:
                    require_fields(row, (*_CONTEXT[task], *_RAW[task][:2]), str(path))
                samples = build_samples(task, raw, self.seed)
            else:
                samples = load_hub(self.hf_id, config=f"{task}_samples", split=self.hf_split)
                for row in samples:
                    require_fields(row, (*_CONTEXT[task], _RAW[task][2], "hallucination"), f"{self.hf_id} {task}_samples")
            if not samples:
                raise DataError(f"no HaluEval {task} samples found", "check the files or the dataset id")
            items.extend(halueval_item(task, s, i) for i, s in enumerate(samples))
        return take(items, limit)

    def messages(self, item: Item, style: str = "default") -> list[dict[str, str]]:
        """The judge prompt (``paper``) or the judge prompt asking for a last-line judgement."""
        prompt = judge_prompt(item)
        if style == "paper":
            return [{"role": "user", "content": prompt}]
        if style == "default":
            return [{"role": "user", "content": prompt.removesuffix("#Your Judgement#:").rstrip() + "\n\n" + DEFAULT_ASK}]
        raise DataError(f"halueval has no prompt style {style!r}", f"use one of {', '.join(self.prompt_styles)}")

    def stop(self, style: str = "default") -> tuple[str, ...]:
        """No stop strings."""
        return ()

    def score(self, items: Sequence[Item], answers: Sequence[str], context: ScoringContext) -> list[Verdict]:
        """1 when the verdict is the label; no verdict is ``no_answer`` (0)."""
        read = paper_first_line if self.first_line_only else judgement
        verdicts = []
        for item, answer in zip(items, answers, strict=True):
            got = read(answer)
            verdicts.append(Verdict(0.0, None, "no_answer") if got is None else Verdict(float(got == item.reference), got, "ok"))
        return verdicts


# --------------------------------------------------------------------------------------------
# The judge instructions (HaluEval's evaluate.py, as in the study's lm-eval task), verbatim
# --------------------------------------------------------------------------------------------

_QA_INSTRUCTIONS = """I want you act as an answer judge. Given a question and an answer, your objective is to determine if the provided answer contains non-factual or hallucinated information. You SHOULD give your judgement based on the following hallucination types and the world knowledge.

You are trying to determine if the answer misunderstands the question context and intention.
#Question#: What is a rare breed of dog that was derived as a variant of Rat Terrier, Shiloh Shepherd dog or American Hairless Terrier?
#Answer#: American Hairless Terrier
#Your Judgement#: No

You are trying to determine if there is a factual contradiction between the answer and the world knowledge. Some information in the answer might be fabricated.
#Question#: Are the New Orleans Outfall Canals the same length as the Augusta Canal?
#Answer#: No, the New Orleans Outfall Canals and the Augusta Canal are not the same length. The Orleans Canal is approximately 3.6 miles (5.8 kilometers) long while the Augusta Canal is approximately 7 miles (11.3 kilometers) long.
#Your Judgement#: Yes
#Question#: What U.S Highway gives access to Zilpo Road, and is also known as Midland Trail?
#Answer#: U.S Highway 70
#Your Judgement#: Yes

You are trying to determine if the answer is too general or too specific to answer the question at an appropriate level of specificity.
#Question#: What genre do Superheaven and Oceansize belong to?
#Answer#: Superheaven and Oceansize belong to the rock genre.
#Your Judgement#: No
#Question#: What profession do Kōbō Abe and Agatha Christie share?
#Answer#: Playwright.
#Your Judgement#: No

You are trying to determine if the answer can be correctly inferred from the knowledge.
#Question#: Which band has more members, Muse or The Raconteurs?
#Answer#: Muse has more members than The Raconteurs.
#Your Judgement#: Yes
#Question#: Which is currently more valuable, Temagami-Lorrain Mine or Meadowbank Gold Mine?
#Answer#: Meadowbank Gold Mine, since Meadowbank Gold Mine is still producing gold and the TemagamiLorrain Mine has been inactive for years.
#Your Judgement#: No

You should try your best to determine if the answer contains non-factual or hallucinated information according to the above hallucination types. The answer you give MUST be "Yes" or "No"\"."""

_DARK_KNIGHT = "#Dialogue History#: [Human]: Could you recommand movies similar to The Dark Knight? [Assistant]: The sequel to Batman Begins is The Dark Knight. [Human]: Okay. Who is the director of The Dark Knight and any other movies from him not related to Batman?"

_DIALOGUE_INSTRUCTIONS = f"""I want you act as a response judge. Given a dialogue history and a response, your objective is to determine if the provided response contains non-factual or hallucinated information. You SHOULD give your judgement based on the following hallucination types and the world knowledge.

You are trying to determine if the true entity in the response is replaced with a highly similar entity.
{_DARK_KNIGHT}
#Response#: Christopher Nolan was the director. He also directed insomnia and inception.
#Your Judgement#: No
{_DARK_KNIGHT}
#Response#: Steven Spielberg was the director. He also directed insomnia and inception.
#Your Judgement#: Yes

You are trying to determine if the true entity in the response is replaced with a dissimilar entity.
{_DARK_KNIGHT}
#Response#: Christopher Nolan was the director. He also directed insomnia and inception.
#Your Judgement#: No
{_DARK_KNIGHT}
#Response#: Batman Begins was the director. He also directed insomnia and inception.
#Your Judgement#: Yes

You are trying to determine if the true entity in the response is replaced with a dissimilar entity in a different entity type.
{_DARK_KNIGHT}
#Response#: Christopher Nolan was the director. He also directed insomnia and inception.
#Your Judgement#: No
{_DARK_KNIGHT}
#Response#: United States of America was the director. He also directed insomnia and inception.
#Your Judgement#: Yes

You should try your best to determine if the response contains non-factual or hallucinated information according to the above hallucination types. The answer you give MUST be "Yes" or "No"\"."""

_SUMMARIZATION_INSTRUCTIONS = """I want you act as a summary judge. Given a document and a summary, your objective is to determine if the provided summary contains non-factual or hallucinated information. You SHOULD give your judgement based on the following hallucination types and the world knowledge.

You are trying to determine if the summary is factual but some information cannot be directly inferred or entailed from the document.
#Document#: The panther chameleon was found on Monday by a dog walker in the wooded area at Marl Park. It had to be put down after X-rays showed all of its legs were broken and it had a deformed spine. RSPCA Cymru said it was an "extremely sad example of an abandoned and neglected exotic pet". Inspector Selina Chan said: "It is a possibility that the owners took on this animal but were unable to provide the care he needs and decided to release him to the wild. "We are urging potential owners of exotic animals to thoroughly research what is required in the care of the particular species before taking one on. "Potential owners need to make sure they can give their animal the environment it needs and they have the facilities, time, financial means and long-term commitment to maintain a good standard of care, as required under the Animal Welfare Act 2006." She added it was illegal to release non-native species into the wild.
#Summary#: A chameleon that was found in a Cardiff park has been put down after being abandoned and neglected by its owners.
#Your Judgement#: Yes

You are trying to determine if there exists some non-factual and incorrect information in the summary.  
#Document#: The city was brought to a standstill on 15 December last year when a gunman held 18 hostages for 17 hours. Family members of victims Tori Johnson and Katrina Dawson were in attendance. Images of the floral tributes that filled the city centre in the wake of the siege were projected on to the cafe and surrounding buildings in an emotional twilight ceremony. Prime Minister Malcolm Turnbull gave an address saying a "whole nation resolved to answer hatred with love". "Testament to the spirit of Australians is that with such unnecessary, thoughtless tragedy, an amazing birth of mateship, unity and love occurs. Proud to be Australian," he said. How the Sydney siege unfolded New South Wales Premier Mike Baird has also announced plans for a permanent memorial to be built into the pavement in Martin Place. Clear cubes containing flowers will be embedded into the concrete and will shine with specialised lighting. It is a project inspired by the massive floral tributes that were left in the days after the siege. "Something remarkable happened here. As a city we were drawn to Martin Place. We came in shock and in sorrow but every step we took was with purpose," he said on Tuesday.
#Summary#: Crowds have gathered in Sydney's Martin Place to honour the victims of the Lindt cafe siege, one year on.
#Your Judgement#: No

You are trying to determine if there is a factual contradiction between the summary and the document.
#Document#: Christopher Huxtable, 34, from Swansea, had been missing since the collapse in February. His body was found on Wednesday and workers who carried out the search formed a guard of honour as it was driven from the site in the early hours of the morning. Ken Cresswell, 57, and John Shaw, 61, both from Rotherham, remain missing. The body of a fourth man, Michael Collings, 53, from Brotton, Teesside, was previously recovered from the site. Swansea East MP Carolyn Harris, who has been involved with the family since the incident, said they still did not know all the facts about the collapse. She said: "I feel very sad. My heart and my prayers go out to the family who have waited desperately for Christopher's body to be found. They can finally have closure, and say goodbye to him and grieve his loss. "But let's not forget that there's two other families who are still waiting for their loved ones to be returned." The building was due for demolition when it partially collapsed in February.
#Summary#: The body of a man whose body was found at the site of the Swansea Bay Power Station collapse has been removed from the site.
#Your Judgement#: Yes

You should try your best to determine if the summary contains non-factual or hallucinated information according to the above hallucination types. The answer you give MUST be "Yes" or "No"\"."""

INSTRUCTIONS = {"qa": _QA_INSTRUCTIONS, "dialogue": _DIALOGUE_INSTRUCTIONS, "summarization": _SUMMARIZATION_INSTRUCTIONS}
