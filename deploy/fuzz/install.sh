#!/usr/bin/env bash
# Installs the API fuzzer (schemathesis, pinned) into a virtualenv under
# $GENESIS_HOME and prints the path of its executable. Idempotent: when the
# pinned version is already there it only prints the path (well under a second).
set -euo pipefail
SCHEMATHESIS_VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"
home="${GENESIS_HOME:-$HOME/.genesis}"
venv="$home/venv-fuzz"
exe="$venv/bin/schemathesis"
stamp="$venv/.schemathesis-$SCHEMATHESIS_VERSION"
if [[ -x "$exe" && -f "$stamp" ]]; then
	echo "$exe"
	exit 0
fi
# The newest Python 3 that runs here (3.10 at least, for schemathesis 4).
python=""
for py in python3.13 python3.12 python3; do
	if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1; then
		python="$py"
		break
	fi
done
if [[ -z "$python" ]] && command -v apt-get >/dev/null 2>&1; then
	# A fresh Debian has python3 but not its venv module (ensurepip).
	echo "fuzz: installing python3-venv (apt)" >&2
	SUDO=$([[ "$(id -u)" = 0 ]] || echo "sudo -n")
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends python3 python3-venv >/tmp/genesis-python-apt.log 2>&1 ||
		{ $SUDO apt-get update -q >>/tmp/genesis-python-apt.log 2>&1 &&
			DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends python3 python3-venv >>/tmp/genesis-python-apt.log 2>&1; } ||
		{ tail -20 /tmp/genesis-python-apt.log >&2; }
	python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1 && python=python3
fi
[[ -n "$python" ]] || { echo "fuzz: Python 3.10 or newer with venv is needed (apt-get install python3 python3-venv)" >&2; exit 1; }
mkdir -p "$home"
# One installer at a time: make test may run in two checkouts on one home.
exec 9>"$home/venv-fuzz.lock"
flock 9
if [[ ! -x "$exe" || ! -f "$stamp" ]]; then
	log="$home/venv-fuzz-install.log"
	echo "fuzz: installing schemathesis $SCHEMATHESIS_VERSION into $venv ($("$python" --version 2>&1); log $log)" >&2
	rm -rf "$venv"
	"$python" -m venv "$venv" >"$log" 2>&1 || { cat "$log" >&2; echo "fuzz: $python -m venv failed (apt-get install python3-venv)" >&2; exit 1; }
	"$venv/bin/python" -m pip install -q "schemathesis==$SCHEMATHESIS_VERSION" >>"$log" 2>&1 ||
		{ tail -30 "$log" >&2; echo "fuzz: pip install schemathesis==$SCHEMATHESIS_VERSION failed (log: $log)" >&2; exit 1; }
	# CPython 3.11's ast.parse can fail with "SystemError: AST constructor
	# recursion depth mismatch" deep in a call stack (python/cpython#106905).
	# Hypothesis parses a lambda's source only to describe it; turned into a
	# SyntaxError, which Hypothesis handles, the run goes on. Newer Pythons
	# are left alone.
	site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
	cat >"$site/genesis_ast_fix.py" <<'PY'
import ast
import sys

if sys.version_info < (3, 12):
    _parse = ast.parse

    def _parse_or_syntax_error(*args, **kwargs):
        try:
            return _parse(*args, **kwargs)
        except SystemError as e:
            if "recursion depth mismatch" not in str(e):
                raise
            raise SyntaxError(str(e)) from e

    ast.parse = _parse_or_syntax_error
PY
	echo "import genesis_ast_fix" >"$site/genesis_ast_fix.pth"
	touch "$stamp"
fi
echo "$exe"
