#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what is missing, then runs `npm test` and
# short runs of the chaos fault suite, of kill -9 during bursts and of the input fuzzer (their
# long runs: docs/reliability.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/runtime.sh
export PATH="$PATH:/usr/sbin"
npm run --silent typecheck
npm run --silent lint
npm run --silent format:check
npm test
npm run --silent test:faults -- --iterations 3
npm run --silent test:kill-burst -- --kills 2 --burst 60
# The fuzzer's seed comes from the commit: each commit explores new inputs, and a failure
# replays on the same commit (the run prints the command); outside git, a random seed.
seed=$( (git rev-parse --short=7 HEAD 2>/dev/null || true) | sed -n 's/^\([0-9a-f]\{7\}\)$/\1/p')
npm run --silent test:fuzz -- --count 2000 --max-minutes 2 ${seed:+--seed $((16#$seed))}
