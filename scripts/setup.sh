#!/usr/bin/env bash
# Installs what steward needs on a fresh machine: Node.js 24 (scripts/runtime.sh), npm
# dependencies, the build, and nats-server, nc and chromium (the web console's browser tests
# drive it through playwright-core, which downloads no browser) from the distribution's packages
# when they are missing. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/runtime.sh

need_apt=()
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need_apt+=(nats-server)
command -v nc >/dev/null 2>&1 || need_apt+=(netcat-openbsd)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} with apt-get" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# node_modules is installed again when the lockfile changed or when it was installed for another node.
stamp="node_modules/.steward-node"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ "$(cat "$stamp" 2>/dev/null)" != "$(node -v)" ]; then
  echo "setup: installing npm dependencies for node $(node -v)" >&2
  npm ci --no-audit --no-fund --loglevel=error
  node -v > "$stamp"
fi
npm run --silent build
