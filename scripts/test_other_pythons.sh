#!/usr/bin/env bash
# CI's second tier: the service-free tests (`make test-fast`) not marked slow, on Python 3.12 and 3.13, each in
# its own virtualenv cached under ~/.cache/phlo_lakehouse/venvs/py3.X-<hash of pyproject.toml
# and constraints.txt>. Usage: scripts/test_other_pythons.sh [3.12 3.13]
# Under CI=true a missing interpreter fails the run; otherwise it is skipped with a message.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/phlo_lakehouse/venvs"
KEY="$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-12)"

find_python() {  # the interpreter of version $1: on PATH, else pyenv's
  local version="$1" candidate
  for candidate in "python$version" "$(pyenv root 2>/dev/null)"/versions/"$version".*/bin/"python$version"; do
    if "$candidate" -c "import sys; assert sys.version_info[:2] == tuple(map(int, '$version'.split('.')))" 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

status=0
for version in "${@:-3.12 3.13}"; do
  for v in $version; do
    if ! py="$(find_python "$v")"; then
      if [[ "${CI:-}" == "true" ]]; then
        echo "CI: python$v not found (install it, e.g. pyenv install $v)" >&2
        status=1
      else
        echo "skipped: python$v not found" >&2
      fi
      continue
    fi
    venv="$CACHE/py$v-$KEY"
    mkdir -p "$CACHE"
    # The editable install points at one checkout: re-point it when the cache was made by another.
    if [[ -x "$venv/bin/python" ]] && [[ "$(cd / && "$venv/bin/python" -c \
        'import phlo_lakehouse, os; print(os.path.dirname(os.path.dirname(os.path.realpath(phlo_lakehouse.__file__))))' \
        2>/dev/null)" != "$(pwd -P)" ]]; then
      rm -f "$venv/.installed-stamp"
    fi
    echo "== service-free tier on $("$py" --version) ($venv)"
    start=$SECONDS
    # The slow service-free cases (property tests, make run, long CLI runs) run on 3.11 in
    # `make test`; here the rest of the tier keeps CI inside its budget.
    make --no-print-directory test-fast PY="$py" VENV="$venv" FAST="not needs_service and not slow" || status=1
    echo "== python$v: service-free tier took $((SECONDS - start)) s"
  done
done
exit $status
