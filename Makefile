# Thin targets; the work is in scripts/ and `python -m ...`.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo demo-sandbox test bench clean

setup:
	bash scripts/setup.sh

demo: setup
	$(PY) -m sandbox check
	$(PY) -m retool eval

demo-sandbox: setup
	$(PY) -m sandbox demo

test: setup
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: setup
	$(PY) bench/sandbox_throughput.py
	$(PY) bench/reward_throughput.py
	$(PY) bench/rollout_overlap.py --cpu-mode --nsjail-cpu-shares current,16384
	$(PY) bench/sft_prepare.py
	$(PY) bench/service_load.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
