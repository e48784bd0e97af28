#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what is missing, then runs `npm test` and
# short runs of the chaos fault suite and of the input fuzzer (their long runs: docs/reliability.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PATH:/usr/sbin"
npm run --silent typecheck
npm run --silent lint
npm test
npm run --silent test:faults -- --iterations 3
npm run --silent test:fuzz -- --count 2000 --max-minutes 2 --seed 761733104
