# Thin targets; the work is in scripts/ and `python -m ...`.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo demo-sandbox test test-adapters bench clean

setup:
	bash scripts/setup.sh

demo: setup
	$(PY) -m sandbox check
	$(PY) -m retool eval

demo-sandbox: setup
	$(PY) -m sandbox demo

test: setup
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)
	if [ "$(TEST_ADAPTERS)" != 0 ]; then $(MAKE) test-adapters; fi

# OpenRLHF, TRL and skyrl-gym adapters against the real packages, in their own venv (.venv-adapters:
# ~2.5 min to install once, ~30 s to run); `make test TEST_ADAPTERS=0` leaves it out.
TEST_ADAPTERS ?= 1
test-adapters:
	bash scripts/setup_adapters.sh
	.venv-adapters/bin/python -m pytest -q -p no:cacheprovider tests/test_integration_openrlhf.py \
		tests/test_integration_trl.py tests/test_integration_skyrl.py tests/test_integration_rllm.py $(PYTEST_ARGS)

bench: setup
	$(PY) bench/sandbox_throughput.py
	$(PY) bench/reward_throughput.py
	$(PY) bench/rollout_overlap.py --cpu-mode --nsjail-cpu-shares current,16384
	$(PY) bench/sft_prepare.py

clean:
	rm -rf $(VENV) .venv-adapters .pytest_cache build *.egg-info
