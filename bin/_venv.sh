# Sourced by bin/demo and bin/test: make .venv with Python 3.11+ and install a requirements file.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi
}

apt_install() {
  command -v apt-get >/dev/null || return 1
  if [ -z "${_APT_UPDATED:-}" ]; then as_root apt-get update -qq || return 1; _APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

ensure_venv() {
  local python=${PYTHON:-python3}
  if [ ! -x .venv/bin/python ]; then
    if ! "$python" -m venv .venv 2>/dev/null; then
      rm -rf .venv
      echo "Installing python3-venv (needed to create .venv)..."
      apt_install python3-venv || { echo "Could not create a virtual environment: install python3-venv" >&2; exit 1; }
      "$python" -m venv .venv
    fi
  fi
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r "$1"
}
