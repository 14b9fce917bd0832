# Thin targets; the work is in scripts/ and `python -m ...`.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup setup-ray demo demo-sandbox test test-verl test-ray test-adapters bench bench-ray clean

setup:
	bash scripts/setup.sh

demo: setup
	$(PY) -m sandbox check
	$(PY) -m retool eval

demo-sandbox: setup
	$(PY) -m sandbox demo

test: setup
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)
	set -e; for t in $(TEST_FRAMEWORKS); do $(MAKE) test-$$t; done

# The real frameworks, each in its own venv made by its scripts/setup_*.sh (installed once, reused):
# verl 0.9.1 (.venv-verl, ~4 min to install, ~2 min to run), Ray (.venv-ray, ~1 min, ~1 min),
# OpenRLHF/TRL/skyrl-gym/rLLM adapters (.venv-adapters, ~2.5 min, ~30 s).
# `make test TEST_FRAMEWORKS=` runs the main suite alone.
TEST_FRAMEWORKS ?= verl ray adapters

test-verl:
	bash scripts/setup_verl.sh
	.venv-verl/bin/python -m pytest -q -p no:cacheprovider tests/frameworks/test_verl_real.py

# Ray lives in its own venv (.venv-ray); these run the cluster tests and bench there.
RAY_PY := .venv-ray/bin/python

setup-ray:
	bash scripts/setup_ray.sh

test-ray: setup-ray
	$(RAY_PY) -m pytest -q -p no:cacheprovider tests/test_cluster_ray.py tests/test_cluster_router.py

bench-ray: setup-ray
	$(RAY_PY) bench/cluster_router.py

test-adapters:
	bash scripts/setup_adapters.sh
	.venv-adapters/bin/python -m pytest -q -p no:cacheprovider tests/test_integration_openrlhf.py \
		tests/test_integration_trl.py tests/test_integration_skyrl.py tests/test_integration_rllm.py

bench: setup
	$(PY) bench/sandbox_throughput.py
	$(PY) bench/reward_throughput.py
	$(PY) bench/rollout_overlap.py --cpu-mode --nsjail-cpu-shares current,16384
	$(PY) bench/sft_prepare.py
	$(PY) bench/service_load.py

clean:
	rm -rf $(VENV) .venv-verl .venv-ray .venv-adapters .pytest_cache build *.egg-info
