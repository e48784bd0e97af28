#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what is missing, then runs `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PATH:/usr/sbin"
npm run --silent typecheck
npm run --silent lint
npm test
