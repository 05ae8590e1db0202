# Shared set-up for scripts/serve and scripts/test: a virtualenv in .venv with the project
# installed editable, and compiled translations. Sourced, not run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

ensure_venv() {
    local extras="$1"
    local stamp=".venv/.installed-$extras"
    if [ ! -x .venv/bin/python ]; then
        "$PYTHON" -m venv .venv
    fi
    # Reinstall only when the dependency list changed since the last install.
    if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
        if [ -n "$extras" ] && [ "$extras" != "base" ]; then
            .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$extras]"
        else
            .venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
        fi
        touch "$stamp"
    fi
    .venv/bin/pybabel compile -d zorgreserve/translations -D messages >/dev/null 2>&1
}
