"""Bundled data for the demo: a few small problems (problems.jsonl) and the few-shot prompt (fewshot.py)."""
