#!/usr/bin/env bash
# The peers' venv for benchmarks/reference/vae_peers.py: Python 3.12 (disent 0.9.3 uses its
# syntax), torch 2.14.1 and torchvision 0.29.1, disent 0.9.3, pythae 0.1.2, and this project.
#   bash benchmarks/reference/setup.sh DIR      then      DIR/bin/python benchmarks/reference/vae_peers.py …
# Idempotent: a second run installs only what is missing. PYTHON=/path/to/python3.12 picks
# the interpreter; otherwise python3.12 on PATH, then pyenv's 3.12 versions.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: bash benchmarks/reference/setup.sh DIR" >&2
    exit 2
fi
dir=$1
project=$(cd "$(dirname "$0")/../.." && pwd)

find_python() {
    if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; return; fi
    if command -v python3.12 >/dev/null 2>&1; then command -v python3.12; return; fi
    for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12; do
        if [ -x "$candidate" ]; then echo "$candidate"; return; fi
    done
}

if [ ! -x "$dir/bin/python" ]; then
    python=$(find_python)
    if [ -z "$python" ]; then
        echo "error: no Python 3.12 found (disent 0.9.3 needs it): install one (e.g." \
            "\`pyenv install 3.12\`) or give its path as PYTHON=..." >&2
        exit 1
    fi
    if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 12))' 2>/dev/null; then
        echo "error: $python is not a Python 3.12 or newer (disent 0.9.3 needs it)" >&2
        exit 1
    fi
    "$python" -m venv "$dir"
fi
minor=$("$dir/bin/python" -c 'import sys; print(sys.version_info[:2] >= (3, 12))')
if [ "$minor" != "True" ]; then
    echo "error: $dir holds Python $("$dir/bin/python" -V 2>&1 | cut -d' ' -f2); disent 0.9.3" \
        "needs 3.12 or newer: remove $dir or give another DIR" >&2
    exit 1
fi

install() {  # install "$@" unless each is there at its version already
    if ! "$dir/bin/pip" install --quiet "$@"; then
        echo "error: pip could not install $*: is the package registry reachable?" >&2
        exit 1
    fi
}
have() {  # "name==version" already installed?
    "$dir/bin/python" - "$1" <<'EOF'
import sys
from importlib.metadata import PackageNotFoundError, version
name, wanted = sys.argv[1].split("==")
try:
    sys.exit(0 if version(name) == wanted or version(name).startswith(wanted + "+") else 1)
except PackageNotFoundError:
    sys.exit(1)
EOF
}

for pin in torch==2.14.1 torchvision==0.29.1 disent==0.9.3 pythae==0.1.2; do
    have "$pin" || install "$pin"
done
if ! "$dir/bin/python" -c "import disentangle" >/dev/null 2>&1; then
    install -e "$project"
fi
"$dir/bin/python" -c "import disent, pythae, disentangle, torch; print('ready:', torch.__version__)"
echo "run: $dir/bin/python $project/benchmarks/reference/vae_peers.py check-loss --method beta_vae --peer disent"
