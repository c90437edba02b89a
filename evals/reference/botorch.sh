#!/usr/bin/env bash
# BoTorch side by side with Genesis's optimiser on the same pools, seeds and
# start points. Not part of `make test`: it installs torch and BoTorch from
# PyPI into a virtualenv (once; later runs reuse it) and takes minutes.
#
#   evals/reference/botorch.sh [--challenges categorical] [--seeds 20] [--budget 20] [--batch 1] [--init auto]
#
# Every flag is passed to `genesis bench search`; the result is one table with
# Genesis's configurations and BoTorch's (botorch-mixed, botorch-desc).
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${GENESIS_BOTORCH_VENV:-${GENESIS_HOME:-$HOME/.genesis}/venvs/botorch}
if ! "$VENV/bin/python" -c 'import botorch' 2>/dev/null; then
	echo "botorch: creating $VENV (torch and BoTorch from PyPI; a few minutes the first time)" >&2
	python3 -m venv "$VENV"
	"$VENV/bin/pip" install -q --upgrade pip >&2
	"$VENV/bin/pip" install -q 'botorch>=0.12' >&2
fi
"$VENV/bin/python" -c 'import botorch, torch; print(f"botorch {botorch.__version__}, torch {torch.__version__}")' >&2
go build -o bin/genesis ./cmd/genesis
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
./bin/genesis bench search --configs bo "$@" --export "$work/pools.json"
"$VENV/bin/python" evals/reference/botorch_pools.py "$work/pools.json" "$work/picks.json"
./bin/genesis bench search "$@" --picks "$work/picks.json"
