#!/usr/bin/env bash
# A local demo: a nats-server, then central, ship1 and ship2 in ./demo/, the seed README's first
# example sent to central's socket, and the result shown. The nodes run until Ctrl-C.
# `--once` stops everything after showing the result (used by CI).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
bash scripts/setup.sh
. scripts/runtime.sh
export PATH="$PATH:/usr/sbin"
once=false
[ "${1:-}" = "--once" ] && once=true

work="$root/demo"
rm -rf "$work"
mkdir -p "$work"/{central,ship1,ship2}
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

nats-server -a 127.0.0.1 -p -1 --ports_file_dir "$work" > "$work/nats-server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do ls "$work"/*.ports >/dev/null 2>&1 && [ -s "$(ls "$work"/*.ports | head -1)" ] && break; sleep 0.1; done
port=$(grep -o '127.0.0.1:[0-9]*' "$(ls "$work"/*.ports | head -1)" | head -1 | cut -d: -f2)
echo "demo: nats-server listening on 127.0.0.1:$port (log: demo/nats-server.log)"

for n in central ship1 ship2; do
  (cd "$work/$n" && exec env CONFIG_FOLDER=./etc/ "$root/bin/steward" -nodeName="$n" -centralNodeName=central \
      -brokerAddress="127.0.0.1:$port" -startPubREQHello=5 > stdout.log 2> steward.log) &
  pids+=($!)
done
for n in central ship1 ship2; do
  for _ in $(seq 200); do grep -q '"msg":"subscribed"' "$work/$n/steward.log" 2>/dev/null && break; sleep 0.1; done
  echo "demo: $n is up (folder demo/$n, log demo/$n/steward.log)"
done

# The seed's first example; `tree` is used when installed, `ls` otherwise.
listing="tree ./"
command -v tree >/dev/null 2>&1 || listing="ls -l ./"
cat > "$work/central/msg.json" <<JSON
[
{
"directory":"/var/cli/command_result/",
"fileName": "some-file-name.result",
"toNode": "ship1",
"method":"REQCliCommand",
"methodArgs": ["bash","-c","sleep 5 & $listing"],
"replyMethod":"REQToFileAppend",
"ACKTimeout":5,
"retries":3,
"replyACKTimeout":5,
"replyRetries":3,
"methodTimeout": 10
}
]
JSON
echo
echo "demo: sending demo/central/msg.json to central with: nc -NU ./tmp/steward.sock < msg.json"
(cd "$work/central" && nc -NU ./tmp/steward.sock < msg.json)
result="$work/central/data/var/cli/command_result/ship1/some-file-name.result"
for _ in $(seq 200); do [ -s "$result" ] && break; sleep 0.1; done
if [ ! -s "$result" ]; then
  echo "demo: no result after 20 s; see demo/*/steward.log" >&2
  exit 1
fi
echo
echo "demo: ship1 ran the command; its output landed on central in"
echo "      ${result#"$root"/}:"
sed 's/^/      | /' "$result"
echo
if $once; then
  echo "demo: done (--once)"
  exit 0
fi
echo "demo: the nodes keep running. Try, from demo/central:"
echo "      echo '{\"toNode\":\"ship2\",\"method\":\"REQCliCommand\",\"methodArgs\":[\"uptime\"],\"directory\":\"up\",\"fileName\":\"up.txt\"}' | nc -NU ./tmp/steward.sock"
echo "      then: cat data/up/ship2/up.txt"
echo "demo: press Ctrl-C to stop everything."
wait
