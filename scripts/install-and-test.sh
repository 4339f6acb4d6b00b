#!/usr/bin/env bash
# Installs StratoSeg with its test dependencies into ./.venv and runs the whole test suite,
# GUI tests included (napari under a virtual X display). On a fresh Debian/Ubuntu machine run as
# root it also installs Xvfb and the GL/xcb libraries Qt needs; otherwise it says what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3

need_apt=()
command -v Xvfb >/dev/null || need_apt+=(xvfb xauth)
# (grep without -q: with pipefail, an early exit of grep -q would fail the pipe by SIGPIPE)
for lib in libGL.so.1 libEGL.so.1 libxkbcommon-x11.so.0 libxcb-icccm.so.4 libxcb-cursor.so.0 \
           libfontconfig.so.1 libdbus-1.so.3; do
  ldconfig -p 2>/dev/null | grep -F "$lib" >/dev/null || { need_apt+=(libgl1 libegl1 libgl1-mesa-dri \
    libglib2.0-0 libfontconfig1 libdbus-1-3 libxkbcommon-x11-0 libxcb-icccm4 libxcb-image0 \
    libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-xinerama0 libxcb-xfixes0 \
    libxcb-shape0 libxcb-cursor0 libxcb-xkb1); break; }
done
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing system packages for the GUI tests: ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "The GUI tests need Xvfb and the Qt/GL libraries; install them first, e.g." >&2
    echo "  sudo apt-get install ${need_apt[*]}" >&2
    exit 1
  fi
fi

[ -d .venv ] || "$PYTHON" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# the CPU build of torch first, so that pip does not pull a multi-GB CUDA build
python -c "import torch" 2>/dev/null || python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[test]"
export QT_API=pyqt6
python -m pytest "$@"
