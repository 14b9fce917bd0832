# Thin targets; the work is in scripts/ and `python -m ...`.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo demo-sandbox test test-verl bench clean

setup:
	bash scripts/setup.sh

demo: setup
	$(PY) -m sandbox check
	$(PY) -m retool eval

demo-sandbox: setup
	$(PY) -m sandbox demo

test: setup
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)
	if [ "$(TEST_VERL)" != 0 ]; then $(MAKE) test-verl; fi

# Our verl pieces inside the real verl 0.9.1, in its own venv (.venv-verl: ~4 min to install once,
# ~2 min to run); `make test TEST_VERL=0` leaves it out.
TEST_VERL ?= 1
test-verl:
	bash scripts/setup_verl.sh
	.venv-verl/bin/python -m pytest -q -p no:cacheprovider tests/frameworks/test_verl_real.py

bench: setup
	$(PY) bench/sandbox_throughput.py
	$(PY) bench/reward_throughput.py
	$(PY) bench/rollout_overlap.py --cpu-mode --nsjail-cpu-shares current,16384
	$(PY) bench/sft_prepare.py
	$(PY) bench/service_load.py

clean:
	rm -rf $(VENV) .venv-verl .pytest_cache build *.egg-info
