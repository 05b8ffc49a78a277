#!/usr/bin/env bash
# Makes PyTorch 2.13.0 (the libtorch that tch-rs 0.26 binds) available to the build, once per
# machine, and links it into the checkout as `.libtorch`, which `.cargo/config.toml` hands to
# torch-sys as LIBTORCH. Idempotent: a second run only checks and relinks.
#
#   ARCHER_TORCH_VENV   where the virtual environment lives
#                       (default: ${XDG_CACHE_HOME:-~/.cache}/archer/torch-2.13.0), shared by
#                       every clone and CI run on this machine.
#   ARCHER_PYTHON       the Python that creates it (default: python3, must be >= 3.10).
#
# The only package installed is torch==2.13.0 with its own requirements (the Linux wheel on
# PyPI is the CUDA build: it runs on CPU-only machines and uses a GPU where there is one).
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION=2.13.0
VENV="${ARCHER_TORCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/archer/torch-$TORCH_VERSION}"
PYTHON="${ARCHER_PYTHON:-python3}"
MARKER="$VENV/.archer-torch-complete"

installed_version() {
  "$VENV/bin/python" -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null || true
}

if [[ -f "$MARKER" && "$(installed_version)" == "$TORCH_VERSION" ]]; then
  echo "setup-torch: PyTorch $TORCH_VERSION ready in $VENV"
else
  if ! command -v "$PYTHON" >/dev/null; then
    echo "setup-torch: $PYTHON not found; install Python 3.10+ or set ARCHER_PYTHON" >&2
    exit 1
  fi
  echo "setup-torch: installing torch==$TORCH_VERSION into $VENV (about 2.7 GB of downloads, 4.7 GB on disk; once per machine)"
  start=$(date +%s)
  # A half-finished environment (killed install, full disk) is started over, never reused.
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "torch==$TORCH_VERSION"
  got="$(installed_version)"
  if [[ "$got" != "$TORCH_VERSION" ]]; then
    echo "setup-torch: the install did not give a working torch $TORCH_VERSION (got '${got}')" >&2
    exit 1
  fi
  touch "$MARKER"
  echo "setup-torch: installed in $(( $(date +%s) - start )) s, $(du -sh "$VENV" | cut -f1) on disk"
fi

TORCH_DIR="$("$VENV/bin/python" -c 'import os, torch; print(os.path.dirname(torch.__file__))')"
ln -sfn "$TORCH_DIR" .libtorch
