"""`python -m retool eval`: data loading, pass@k, the summary, the results JSONL, concurrency, and one
real run through the transformers engine on the tiny model (a subprocess, bounded in time).

The CLI tests inject the rollout core's `ScriptedEngine` (`retool.eval.main(argv, engine=...)`): the
rollouts, the code interpreter (a real sandbox) and the reward are the real ones, only the model is
scripted. With `--concurrency 1` the samples run in order, so the script is consumed in order.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from retool.eval import (
    EvalConfig,
    Problem,
    bundled_problems_path,
    evaluate,
    format_summary,
    load_problems,
    main,
    pass_at_k,
)
from retool.testing.scripted_engine import ScriptedEngine
from retool.testing.tiny_model import build_tiny_model, build_tiny_tokenizer
from retool.formats import tool_schema
from retool.tool import ToolResult, ToolStatus

ROOT = Path(__file__).resolve().parents[1]
END = "<|im_end|>"


def call(code: str) -> str:
    return "<tool_call>\n" + json.dumps({"name": "code_interpreter", "arguments": {"code": code}}) + "\n</tool_call>"


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return build_tiny_tokenizer(tmp_path_factory.mktemp("tok"))


# --------------------------------------------------------------------------------------- data
def test_load_problems_accepts_aliases_and_reports_malformed_rows(tmp_path):
    rows = [
        '{"prompt": "What is 6 * 7?", "label": "42"}',
        '{"problem": "Sum 1..100?", "answer": 5050}',
        "",
        '{"Problem": "gcd(84, 120)?", "Answer": "12", "id": "gcd"}',
        "{not json",
        '["a", "list"]',
        '{"prompt": "no label here"}',
        '{"label": "1"}',
        '{"prompt": "   ", "label": "1"}',
        '{"prompt": "bool label", "label": true}',
        '{"prompt": [{"role": "user", "content": "chat prompt"}], "label": {"ground_truth": "3"}}',
        '{"prompt": [1, 2], "label": "3"}',
    ]
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(rows) + "\n")
    problems, errors = load_problems(path)
    assert [(p.prompt if isinstance(p.prompt, str) else "chat", p.label, p.line) for p in problems] == [
        ("What is 6 * 7?", "42", 1), ("Sum 1..100?", "5050", 2), ("gcd(84, 120)?", "12", 4), ("chat", "3", 11)]
    assert [p.id for p in problems] == ["0", "1", "gcd", "3"]
    assert [p.index for p in problems] == [0, 1, 2, 3]
    assert [e.line for e in errors] == [5, 6, 7, 8, 9, 10, 12]
    assert "not valid JSON" in errors[0].error
    assert "JSON object" in errors[1].error
    assert "no label" in errors[2].error and "no prompt" in errors[3].error
    assert "non-empty" in errors[4].error and "string or a number" in errors[5].error
    assert "chat messages" in errors[6].error
    limited, _ = load_problems(path, limit=2)
    assert len(limited) == 2


def test_bundled_problems_and_fewshot_prompt_parse():
    from retool.data.fewshot import EXAMPLES, build_messages, call_text
    from retool.formats import parse_calls

    problems, errors = load_problems(bundled_problems_path())
    assert not errors and len(problems) >= 6
    assert all(p.label for p in problems)
    # every example call is one the rollout's parser accepts, in each format
    for fmt in ("hermes", "code", "python"):
        for _, _, code, _, _ in EXAMPLES:
            calls = parse_calls(call_text(code, fmt), fmt)
            assert [c.code for c in calls] == [code], fmt
    msgs = build_messages("What is 2 + 2?")
    assert msgs[0]["role"] == "system" and "code_interpreter" in msgs[0]["content"]
    assert msgs[-1] == {"role": "user", "content": "What is 2 + 2?"}
    assert [m["role"] for m in msgs[1:5]] == ["user", "assistant", "tool", "assistant"]
    assert "\\boxed{" in msgs[4]["content"]
    assert [m["role"] for m in build_messages("x", fewshot=False)] == ["system", "user"]
    inter = build_messages("x", call_format="code", observation_format="interpreter")
    assert "<interpreter>" in inter[2]["content"] and "<code>" in inter[2]["content"]


# --------------------------------------------------------------------------------------- pass@k
def _pass_at_k_brute(n: int, c: int, k: int) -> float:
    """Probability that a random k-subset of n samples (c correct) contains a correct one."""
    samples = [1] * c + [0] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(1 for s in subsets if any(samples[i] for i in s)) / len(subsets)


def test_pass_at_k_unbiased_estimator():
    assert pass_at_k(5, 0, 1) == 0.0 and pass_at_k(5, 5, 3) == 1.0
    assert pass_at_k(2, 1, 1) == 0.5 and pass_at_k(2, 1, 2) == 1.0
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)
    for n in range(1, 7):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(_pass_at_k_brute(n, c, k)), (n, c, k)
                if k == 1:
                    assert pass_at_k(n, c, 1) == pytest.approx(c / n)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)


# --------------------------------------------------------------------------------------- CLI
def _data(tmp_path: Path) -> Path:
    path = tmp_path / "problems.jsonl"
    path.write_text("\n".join([
        json.dumps({"prompt": "What is 6 * 7?", "label": "42"}),
        "this line is not JSON",
        json.dumps({"problem": "What is the sum of 1..100?", "answer": "5050"}),
        json.dumps({"Problem": "What is 3 + 4?", "Answer": 7}),
    ]) + "\n")
    return path


def test_cli_end_to_end_with_scripted_engine(tmp_path, tok, capsys):
    # Samples in order: (p0, s0), (p0, s1), (p1, s0), (p1, s1), (p2, s0), (p2, s1).
    script = [
        call("print(6 * 7)"), "The answer is \\boxed{42}." + END,           # p0 s0: tool ok, right
        "I think it is \\boxed{41}." + END,                                 # p0 s1: no tool, wrong
        call("print(1 / 0)"), "So the sum is \\boxed{5050}." + END,         # p1 s0: tool error, right
        '<tool_call>\n{"name": "code_interpreter" "arguments": {"code": "x = 1"}}\n</tool_call>',  # p1 s1: bad JSON
        "Anyway \\boxed{5050}." + END,                                      #        ... then right
        call("import time\ntime.sleep(5)"), "It is \\boxed{7}." + END,      # p2 s0: timeout, right
        "lots of words " * 40,                                              # p2 s1: runs out of tokens
    ]
    engine = ScriptedEngine(tok, script)
    out_path = tmp_path / "results.jsonl"
    summary_path = tmp_path / "summary.json"
    stdout = io.StringIO()
    rc = main(["--data", str(_data(tmp_path)), "--model", "scripted", "--n-samples", "2", "--concurrency", "1",
               "--max-new-tokens", "64", "--max-context", "8192", "--tool-timeout", "1", "--temperature", "0.7",
               "--output", str(out_path), "--summary-json", str(summary_path), "--no-progress"],
              engine=engine, stdout=stdout)
    assert rc == 0
    assert not engine.script, "every scripted turn was used"

    records = [json.loads(line) for line in out_path.read_text().splitlines()]
    assert [(r["id"], r["sample"]) for r in records] == [("0", 0), ("0", 1), ("1", 0), ("1", 1), ("2", 0), ("2", 1)]
    assert [r["line"] for r in records] == [1, 1, 3, 3, 4, 4]
    assert records[2]["prompt"] == "What is the sum of 1..100?"
    assert [r["acc"] for r in records] == [True, False, True, True, True, False]
    assert [r["pred"] for r in records[:5]] == ["42", "41", "5050", "5050", "7"]
    assert [r["status"] for r in records] == ["completed"] * 5 + ["truncated"]
    assert [[c["status"] for c in r["tool_calls"]] for r in records] == [["ok"], [], ["error"], ["invalid"], ["timeout"], []]
    assert records[0]["tool_calls"][0]["observation"].strip() == "42"
    assert "ZeroDivisionError" in records[2]["tool_calls"][0]["observation"]
    assert [r["num_tool_calls"] for r in records] == [1, 0, 1, 0, 1, 0]  # invalid calls never ran
    for r in records:
        assert r["score"] == (1.0 if r["acc"] else r["score"]) and isinstance(r["score"], float)
        assert r["generated_tokens"] > 0 and r["response_tokens"] >= r["generated_tokens"]
        assert r["generation_s"] >= 0 and r["tool_s"] >= 0 and r["total_s"] >= r["generation_s"]
        assert r["label"] in ("42", "5050", "7") and isinstance(r["response"], str)
    assert records[4]["tool_s"] >= 0.9  # the 1 s time limit was really waited for

    summary = json.loads(summary_path.read_text())
    assert summary["problems"] == 3 and summary["samples"] == 6 and summary["skipped_rows"] == 1
    assert summary["accuracy"] == pytest.approx(4 / 6)
    assert summary["pass@1"] == pytest.approx((0.5 + 1.0 + 0.5) / 3)
    assert summary["pass@2"] == pytest.approx(1.0)
    assert summary["tool_calls"] == 4
    assert summary["mean_tool_calls"] == pytest.approx(4 / 6)
    assert summary["mean_executed_tool_calls"] == pytest.approx(3 / 6)
    assert summary["tool_error_rate"] == pytest.approx(2 / 4)  # the ZeroDivisionError and the bad JSON
    assert summary["tool_timeout_rate"] == pytest.approx(1 / 4)
    assert summary["tool_call_statuses"] == {"error": 1, "invalid": 1, "ok": 1, "timeout": 1}
    assert summary["trajectory_statuses"] == {"completed": 5, "truncated": 1}
    assert summary["generated_tokens"] == sum(r["generated_tokens"] for r in records)
    assert summary["tool_s"] >= 0.9 and summary["wall_s"] > 0 and summary["tokens_per_s"] > 0
    assert 0 < summary["generation_share"] < 1 and summary["generation_share"] + summary["tool_share"] == pytest.approx(1)

    text = stdout.getvalue()
    for needle in ("accuracy (mean acc)", "0.667", "pass@1", "pass@2", "tool error rate", "0.500",
                   "tool timeout rate", "0.250", "trajectory statuses", "completed 5, truncated 1",
                   "generated tokens/s", "time in generation", "time in tools", "wall time", str(out_path)):
        assert needle in text, needle
    assert "SmolLM2" not in text  # the demo note only comes with the default model
    err = capsys.readouterr().err
    assert "problems.jsonl:2: skipped malformed row: not valid JSON" in err


def test_cli_default_model_note_and_errors(tmp_path, tok, capsys):
    from retool.eval import DEFAULT_NOTE

    engine = ScriptedEngine(tok, ["\\boxed{42}" + END])
    stdout = io.StringIO()
    data = tmp_path / "one.jsonl"
    data.write_text(json.dumps({"prompt": "6*7?", "label": "42"}) + "\n")
    # no --model: the note says a real checkpoint goes in --model (the engine is injected, so no conversion)
    assert main(["--data", str(data), "--output", str(tmp_path / "r.jsonl"), "--no-progress",
                 "--prompt-style", "plain"], engine=engine, stdout=stdout) == 0
    assert DEFAULT_NOTE in stdout.getvalue() and "--model" in DEFAULT_NOTE
    assert "accuracy (mean acc)       1.000" in stdout.getvalue()
    # the plain prompt is the problem alone
    prompt = tok.decode(engine.calls[0].prompt_token_ids)
    assert "6*7?" in prompt and "I will compute it with Python" not in prompt

    with pytest.raises(SystemExit, match="not found"):
        main(["--data", str(tmp_path / "missing.jsonl")], engine=engine)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("nope\n{}\n")
    with pytest.raises(SystemExit, match="no valid rows"):
        main(["--data", str(bad), "--no-progress"], engine=engine)
    with pytest.raises(SystemExit) as exc:
        main(["--engine", "http"])  # needs --url
    assert exc.value.code == 2
    capsys.readouterr()


def test_progress_counter_without_tqdm(monkeypatch):
    import builtins

    from retool.eval import _Progress

    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError("no tqdm here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    stream = io.StringIO()
    bar = _Progress(2, True, stream)
    assert bar.bar is None
    bar.update(True)
    bar.update(False)
    bar.close()
    assert "1/2 samples, acc 1.00" in stream.getvalue() and "2/2 samples, acc 0.50\n" in stream.getvalue()


class _EchoEngine:
    """Answers every prompt with the boxed label found in it, after a delay; counts calls in flight."""

    def __init__(self, tok, delay_s: float):
        self.tokenizer = tok
        self.delay_s = delay_s
        self.in_flight = 0
        self.max_in_flight = 0

    async def generate(self, prompt_token_ids, sampling):
        from retool.engines.base import Generation

        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s)
        finally:
            self.in_flight -= 1
        text = self.tokenizer.decode(prompt_token_ids)
        number = text.rsplit("number ", 1)[1].split("?", 1)[0]
        ids = self.tokenizer.encode(f"\\boxed{{{number}}}" + END, add_special_tokens=False)
        return Generation(ids, [-0.1] * len(ids), "stop")

    async def close(self):
        pass


class _InstantTool:
    name = "code_interpreter"
    schema = tool_schema()

    async def execute(self, code):
        return ToolResult("1", ToolStatus.OK, 0.0)


async def test_evaluate_runs_samples_concurrently_up_to_the_limit(tok, tmp_path):
    problems = [Problem(str(i), i, i + 1, f"What is the number {i}?", str(i)) for i in range(12)]
    engine = _EchoEngine(tok, delay_s=0.2)
    cfg = EvalConfig(n_samples=2, concurrency=8, prompt_style="plain", max_context_tokens=4096)
    t0 = time.monotonic()
    report = await evaluate(engine, problems, cfg, tool=_InstantTool(), output=tmp_path / "r.jsonl")
    wall = time.monotonic() - t0
    assert engine.max_in_flight == 8
    assert wall < 24 * 0.2 / 2  # far from serial (4.8 s); 3 waves of 8 take ~0.6 s
    assert report.summary["accuracy"] == 1.0 and report.summary["pass@2"] == 1.0
    lines = (tmp_path / "r.jsonl").read_text().splitlines()
    assert [(json.loads(x)["index"], json.loads(x)["sample"]) for x in lines] == [(i, s) for i in range(12) for s in range(2)]


def test_format_summary_lists_every_pass_at_k():
    from retool.eval import EvalRecord, summarize

    recs = [EvalRecord(id=str(i // 3), index=i // 3, sample=i % 3, line=1, prompt="p", label="1", status="completed",
                       end_reason="completed", score=float(i % 2 == 0), acc=i % 2 == 0, pred="1", reward_reason=None,
                       num_tool_calls=0, turns=1, generated_tokens=5, response_tokens=5, generation_s=0.1)
            for i in range(9)]
    s = summarize(recs, n_samples=3, wall_s=1.0)
    assert set(k for k in s if k.startswith("pass@")) == {"pass@1", "pass@2", "pass@3"}
    assert s["pass@1"] == pytest.approx(s["accuracy"])
    assert s["tool_error_rate"] == 0.0 and s["tool_timeout_rate"] == 0.0
    table = format_summary(s)
    assert table.index("pass@1") < table.index("pass@2") < table.index("pass@3")


# --------------------------------------------------------------------------------------- real run
def test_real_run_hf_engine_tiny_model_subprocess(tmp_path_factory, tmp_path):
    model = build_tiny_model(tmp_path_factory.getbasetemp() / "retool_tiny_model")
    out = tmp_path / "results.jsonl"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "retool", "eval", "--engine", "hf", "--model", str(model), "--limit", "2",
         "--max-new-tokens", "16", "--max-context", "4096", "--output", str(out), "--no-progress"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert time.monotonic() - t0 < 240
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 2 and [r["index"] for r in records] == [0, 1]
    for r in records:
        assert r["status"] in ("completed", "truncated") and r["error"] is None
        assert 0 < r["generated_tokens"] and r["prompt_tokens"] > 0
        assert r["acc"] in (True, False) and math.isfinite(r["score"])
    assert "accuracy (mean acc)" in proc.stdout and "pass@1" in proc.stdout and "wall time" in proc.stdout
    assert "SmolLM2" not in proc.stdout
