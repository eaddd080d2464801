"""Scorers: the thinking split, answer extraction, the math grader and its worker pool, and the others.

- :mod:`~transferlab.scoring.thinking`: split a completion into thinking and answer;
- :mod:`~transferlab.scoring.graded`: the one sequence, split then grade (unclosed thinking scores 0);
- :mod:`~transferlab.scoring.extract`: final-answer extraction and clean-up for math;
- :mod:`~transferlab.scoring.math` / :mod:`~transferlab.scoring.math_pool`: the math grader, one
  answer in process or batches in worker processes with a hard time limit;
- :mod:`~transferlab.scoring.qwen_compat`: the Qwen2.5-Math harness's verdicts (``--math-grader qwen25-math``);
- :mod:`~transferlab.scoring.ifeval_checks`, :mod:`~transferlab.scoring.code`: IFEval and code;
- :mod:`~transferlab.scoring.agreement`: agreement of the math grader with published verdicts.
"""

from transferlab.scoring.graded import split_and_grade
from transferlab.scoring.math import MathTask, MathVerdict, grade_math
from transferlab.scoring.math_pool import MathGradingPool
from transferlab.scoring.thinking import ThinkingSplit, parser_for_prompt, split_thinking

__all__ = ["MathGradingPool", "MathTask", "MathVerdict", "ThinkingSplit", "grade_math", "parser_for_prompt", "split_and_grade", "split_thinking"]
