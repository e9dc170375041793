#!/usr/bin/env bash
# `make install`'s first step: make sure VENV is a working virtual environment of PYTHON.
# Rebuilds it, saying why, when it was made by another Python or an install into it did not finish.
# Usage: scripts/ensure_venv.sh PYTHON VENV
set -euo pipefail
python=$1
venv=$2
want=$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null) || {
  echo "error: PYTHON=$python does not run; give an interpreter: make install PYTHON=python3.11" >&2
  exit 2
}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "error: PYTHON=$python is Python $want; dynabert-edge needs >= 3.11: make install PYTHON=python3.11" >&2
  exit 2
}
if [ -e "$venv" ]; then
  have=$("$venv/bin/python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null || true)
  why=""
  if [ -z "$have" ]; then
    why="its python does not run"
  elif [ "$have" != "$want" ]; then
    why="it was made by Python $have and PYTHON=$python is Python $want"
  elif [ -e "$venv/.installing" ]; then
    why="an install into it did not finish"
  elif ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    why="it has no working pip"
  fi
  if [ -n "$why" ]; then
    echo "make install: rebuilding $venv: $why"
    rm -rf "$venv"
  fi
fi
if [ ! -e "$venv" ]; then
  "$python" -m venv "$venv"
fi
touch "$venv/.installing"
