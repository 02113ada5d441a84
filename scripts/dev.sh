#!/usr/bin/env bash
# One entry point for a fresh machine: `scripts/dev.sh build` installs sitegen and builds the
# seed site into build/; `scripts/dev.sh test` installs everything the tests need and runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv

have() { command -v "$1" >/dev/null 2>&1; }
apt_install() {
  # Only root on Debian can install system packages; say what is missing otherwise.
  if ! have apt-get; then echo "dev.sh: please install: $*" >&2; exit 1; fi
  if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

python_env() {
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c "import ensurepip" >/dev/null 2>&1; then
    apt_install python3-venv
  fi
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e ".$1"
}

case "${1:-}" in
  build)
    python_env ""
    "$VENV/bin/sitegen" build
    ;;
  test)
    have java || apt_install default-jre-headless
    have chromium || apt_install chromium
    have npm || apt_install npm
    # The Nu HTML Checker comes from the npm registry's vnu-jar package, pinned for repeatable results.
    if [ ! -f .cache/vnu/node_modules/vnu-jar/build/dist/vnu.jar ]; then
      mkdir -p .cache/vnu
      npm install --silent --prefix .cache/vnu vnu-jar@26.9.27 >/dev/null
    fi
    # axe-core, the accessibility engine behind Lighthouse, which the browser tests run in Chromium.
    if [ ! -f .cache/axe/node_modules/axe-core/axe.min.js ]; then
      mkdir -p .cache/axe
      npm install --silent --prefix .cache/axe axe-core@4.14.1 >/dev/null
    fi
    python_env "[test]"
    shift
    SITEGEN_VNU_JAR="$PWD/.cache/vnu/node_modules/vnu-jar/build/dist/vnu.jar" "$VENV/bin/python" -m pytest "$@"
    ;;
  *)
    echo "usage: scripts/dev.sh build | test [pytest args]" >&2
    exit 2
    ;;
esac
