"""Fixture rows in the exact upstream layouts the data pipelines read (hub downloads are impossible
here): ReTool-SFT (`JoeYing/ReTool-SFT`, column ``messages`` = [user, assistant]), DAPO-Math-17k
(``prompt``/``reward_model``/``data_source``/``ability``/``extra_info``) and AIME 2024/2025
(``Problem``/``Answer`` or lowercase). Each builder returns plain dicts; `write_parquet` stores them
the way the hub does (one parquet file through pyarrow).

The ReTool rows include the quirks the real data has: instructions before ``*user question:*``
that themselves mention the tags, stray ``<answer>`` tags in the question, a ``\\n`` inside the
fence, blank lines around outputs, a cell that uses a variable defined by an earlier cell, and a
recorded float that differs in its last digits from what CPython prints (``0.49999999999999994``
recorded, ``0.5`` printed), which only verify's numeric tolerance accepts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

RETOOL_INSTRUCTIONS = (
    "Solve the following problem step by step. You now have the ability to selectively write executable "
    "Python code to enhance your reasoning process. The Python code will be executed by an external sandbox, "
    "and the output (wrapped in `<interpreter>output_str</interpreter>`) can be returned to aid your reasoning "
    "and help you arrive at the final answer. The Python code should be complete scripts, including necessary "
    "imports. \nEach code snippet is wrapped with `<code>\n```python\ncode snippet\n```\n</code>`.\n"
    "The last part of your response should be in the following format:\n<answer>\n"
    "\\boxed{{'The final answer goes here.'}}\n</answer>\n\n"
)


def retool_user(question: str) -> str:
    return RETOOL_INSTRUCTIONS + "*user question:*\n" + question


def cell(code: str) -> str:
    return "<code>\n```python\n" + code + "\n```\n</code>"


def output(text: str) -> str:
    return "<interpreter>\n" + text + "\n</interpreter>"


def retool_row(question: str, assistant: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": retool_user(question)},
                         {"role": "assistant", "content": assistant}]}


def retool_sft_rows() -> list[dict[str, Any]]:
    """Five well-formed rows (0-4) whose recorded outputs are what the code prints (row 2 up to
    float rounding)."""
    return [
        retool_row(
            "How many ways are there to choose 3 books from 10?<answer></answer>",
            "We count combinations.\n\n" + cell("\nimport math\nprint(math.comb(10, 3))") + "\n"
            + output("120") + "\n\nSo there are 120 ways.\n\n<answer>\n\\boxed{120}\n</answer>",
        ),
        retool_row(
            "<answer>Find the sum of the squares of the roots of x^2 - 5x + 6 = 0.</answer>",
            "First find the roots.\n" + cell("import sympy as sp\nx = sp.symbols('x')\nroots = sp.solve(x**2 - 5*x + 6, x)\nprint(roots)")
            + "\n" + output("[2, 3]") + "\nNow square and add, reusing `roots` from the previous cell.\n"
            + cell("print(sum(r**2 for r in roots))") + "\n" + output("13")
            + "\nThe sum is 13.\n<answer>\nThe answer is \\boxed{13}.\n</answer>",
        ),
        retool_row(
            "What is 1/3 + 1/6 as a decimal?",
            "Compute it.\n" + cell("print(1/3 + 1/6)") + "\n" + output("0.49999999999999994")
            + "\nThat is 1/2.\n<answer>\\boxed{\\frac{1}{2}}</answer>",
        ),
        retool_row(
            "What is 2 + 2?",
            "This needs no code: 2 + 2 = 4.\n<answer>\n\\boxed{4}\n</answer>",
        ),
        retool_row(
            "List the first five squares.",
            "Loop over them.\n" + cell("for i in range(1, 6):\n    print(i * i)") + "\n"
            + output("1\n4\n9\n16\n25") + "\n\n<answer>\n\\boxed{1, 4, 9, 16, 25}\n</answer>",
        ),
    ]


def retool_malformed_rows() -> list[dict[str, Any]]:
    """Rows a converter must report and skip, each with the reason key it should give."""
    good = "Think.\n" + cell("print(1)") + "\n" + output("1") + "\n<answer>\\boxed{1}</answer>"
    return [
        {"messages": [{"role": "user", "content": "no marker here"}, {"role": "assistant", "content": good}]},
        retool_row("q?", "Think.\n" + cell("print(1)") + "\n" + output("1") + "\nno answer tag"),
        retool_row("q?", "Think.\n<code>\n```python\nprint(1)\n```\n" + output("1") + "\n<answer>\\boxed{1}</answer>"),
        retool_row("q?", "Think.\n" + cell("   ") + "\n" + output("") + "\n<answer>\\boxed{1}</answer>"),
        {"messages": [{"role": "user", "content": retool_user("q?")}, {"role": "assistant", "content": None}]},
        {"messages": [{"role": "user", "content": retool_user("q?")}]},
        retool_row("q?", "Think.\n" + cell("print(1)") + "\n<answer>\\boxed{1}</answer>"),
    ]


DAPO_INSTRUCTION = (
    "Solve the following math problem step by step. The last line of your response should be of the form "
    "Answer: $Answer (without quotes) where $Answer is the answer to the problem.\n\n"
)
DAPO_SUFFIX = "\n\nRemember to put your answer on its own line after \"Answer:\"."


def dapo_rows() -> list[dict[str, Any]]:
    problems = [("Find the remainder when 2^10 is divided by 7.", "2"),
                ("How many positive divisors does 36 have?", "9"),
                ("Compute 12 * 13.", "156")]
    return [
        {
            "data_source": "math_dapo",
            "prompt": [{"content": DAPO_INSTRUCTION + problem + DAPO_SUFFIX, "role": "user"}],
            "ability": "MATH",
            "reward_model": {"ground_truth": answer, "style": "rule-lighteval/MATH_v2"},
            "extra_info": {"index": f"9a1f0c2e-{i:04d}"},
        }
        for i, (problem, answer) in enumerate(problems)
    ]


def aime_rows(lowercase: bool = False) -> list[dict[str, Any]]:
    rows = [
        {"ID": "2024-I-1", "Problem": "Find the number of positive integers n <= 10 with n^2 < 50.",
         "Solution": "n = 1..7.", "Answer": 7},
        {"ID": "2024-I-2", "Problem": "What is the largest prime below 30?", "Solution": "29.", "Answer": 29},
    ]
    if lowercase:
        return [{"id": r["ID"], "problem": r["Problem"], "answer": str(r["Answer"])} for r in rows]
    return rows


def write_parquet(rows: list[dict[str, Any]], path: str | Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def write_jsonl(rows: list[dict[str, Any]], path: str | Path) -> Path:
    import json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
