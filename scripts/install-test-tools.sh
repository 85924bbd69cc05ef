#!/usr/bin/env bash
# Installs the tools the end-to-end tests need, inside the repository (idempotent):
#   .venv/                      a Python virtualenv with moto[server] (scripts/requirements-test.txt)
#   tests/.tools/node_modules/  asl-validator, aws-local-stepfunctions and jsonata (the reference
#                               JSONata, for tests/jsonata_differential.rs), pinned by
#                               tests/.tools/package-lock.json (npm ci)
# A second run with nothing changed does no work (a stamp records what was installed).
# Environment: PYTHON (default python3) picks the interpreter for the virtualenv.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

python="${PYTHON:-python3}"
venv="$root/.venv"
requirements="$root/scripts/requirements-test.txt"
tools="$root/tests/.tools"

fingerprint() { sha256sum "$@" | sha256sum | cut -d' ' -f1; }

# ---- moto in .venv -----------------------------------------------------------------------
want="$(fingerprint "$requirements")"
stamp="$venv/.flowctl-requirements.sha256"
if [[ ! -x "$venv/bin/python" ]]; then
  echo "install-test-tools: creating $venv"
  "$python" -m venv "$venv"
fi
if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]] || ! "$venv/bin/python" -c 'import moto, boto3' 2>/dev/null; then
  echo "install-test-tools: installing $(grep -v '^#' "$requirements" | xargs) into .venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  echo "$want" >"$stamp"
fi
echo "install-test-tools: moto $("$venv/bin/python" -c 'import moto; print(moto.__version__)') in .venv"

# ---- asl-validator, aws-local-stepfunctions and jsonata in tests/.tools ------------------
command -v npm >/dev/null || { echo "install-test-tools: npm is required (apt-get install -y npm)" >&2; exit 2; }
want="$(fingerprint "$tools/package.json" "$tools/package-lock.json")"
stamp="$tools/node_modules/.flowctl-lock.sha256"
if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]] || [[ ! -x "$tools/node_modules/.bin/asl-validator" ]] \
  || [[ ! -f "$tools/node_modules/aws-local-stepfunctions/package.json" ]] \
  || [[ ! -f "$tools/node_modules/jsonata/package.json" ]]; then
  echo "install-test-tools: npm ci --prefix tests/.tools"
  npm ci --prefix "$tools" --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
fi
echo "install-test-tools: asl-validator $(node -p "require('$tools/node_modules/asl-validator/package.json').version") in tests/.tools"
echo "install-test-tools: aws-local-stepfunctions $(node -p "require('$tools/node_modules/aws-local-stepfunctions/package.json').version") in tests/.tools (node $(node --version))"
echo "install-test-tools: jsonata $(node -p "require('$tools/node_modules/jsonata/package.json').version") in tests/.tools"
