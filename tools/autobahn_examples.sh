#!/usr/bin/env bash
# Issue 19's evidence for the examples with a fixed contract: each example is
# started on each runtime it supports (`--port P --hostname 127.0.0.1`, P free),
# `GET /` must answer 200 `hello`, then the Autobahn TestSuite's plain cases
# (1-11; --full: all) run against ws://127.0.0.1:P/ws, and the example is stopped
# (SIGTERM, then SIGKILL after 10 s). Whatever this script starts is stopped,
# also on failure or Ctrl-C.
#
#   tools/autobahn_examples.sh [--only REGEX] [--full]
#
#   --only RE   only agents (e.g. node_http-deno, hono-bun) matching the grep -E regex
#   --full      every case, 12.*/13.* included (the examples do not offer
#               permessage-deflate unless the library's default does)
#
# Env: AUTOBAHN_DIR (the suite, default ../shared/autobahn), AUTOBAHN_OUT (reports;
# this script uses its "examples" subdirectory and clears it first).
# Output: per agent "GET / ok" or the failure, and at the end the suite's summary
# lines (one per agent). Exits non-zero if any example failed to start, answered
# GET / wrongly, did not stop on SIGTERM, or any case FAILED.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SUITE="${AUTOBAHN_DIR:-$ROOT/../shared/autobahn}"
OUT="${AUTOBAHN_OUT:-${TMPDIR:-/tmp}/autobahn-reports}/examples"
export PATH="$ROOT/tools/rt/node_modules/.bin:$PATH" NO_COLOR=1 RUST_BACKTRACE=0
# run.sh clears its report directory on every run: each run gets "$OUT/run",
# and its report is moved to "$OUT/servers" afterwards.
export AUTOBAHN_OUT="$OUT/run"

ONLY="" FULL=()
while [ $# -gt 0 ]; do
  case "$1" in
    --only) ONLY="$2"; shift ;;
    --full) FULL=(--full) ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ -x "$SUITE/run.sh" ] || { echo "no Autobahn TestSuite at $SUITE (set AUTOBAHN_DIR)" >&2; exit 2; }

# example | runtimes (examples/bun_serve.ts: Bun only, once it exists)
EXAMPLES=("node_http.ts|node bun deno" "hono.ts|node bun deno" "bun_serve.ts|bun")

mkdir -p "$OUT/logs"
rm -rf "$OUT/servers" "$OUT/run"
: > "$OUT/examples-timings.tsv"
status=0
SPID="" RPID=""

stop_server() { # SIGTERM, 10 s to exit, then SIGKILL; returns 1 if it had to be killed
  [ -n "$SPID" ] || return 0
  local pid=$SPID rc=0
  SPID=""
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null; rc=1; fi
  wait "$pid" 2>/dev/null
  return $rc
}
descendants() { # pid: its children, grandchildren, … (run.sh's `timeout` leaves its process group)
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    echo "$child"
    descendants "$child"
  done
}
stop_suite() { # the suite run in progress, if any, and everything it started
  [ -n "$RPID" ] || return 0
  kill -TERM "$RPID" $(descendants "$RPID") 2>/dev/null
  RPID=""
}
trap 'stop_suite; stop_server; exit 130' INT TERM
trap 'stop_suite; stop_server' EXIT

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() { # port: until it accepts, or the server exits (30 s at most)
  for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$SPID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

for entry in "${EXAMPLES[@]}"; do
  file="${entry%%|*}"
  for runtime in ${entry#*|}; do
    agent="${file%.ts}-$runtime"
    [ -z "$ONLY" ] || echo "$agent" | grep -qE "$ONLY" || continue
    if ! [ -f "examples/$file" ]; then
      echo "$agent: examples/$file does not exist, skipped"
      continue
    fi
    port=$(free_port)
    case "$runtime" in
      deno) cmd=(deno run -A "examples/$file") ;;
      *) cmd=("$runtime" "examples/$file") ;;
    esac
    log="$OUT/logs/example-$agent.log"   # (the suite's own logs: $OUT/run/logs)
    "${cmd[@]}" --port "$port" --hostname 127.0.0.1 > "$log" 2>&1 &
    SPID=$!
    if ! wait_port "$port"; then
      echo "$agent: did not listen on port $port (see $log)"
      status=1; stop_server; continue
    fi
    body=$(curl -s -m 10 -o - -w '\n%{http_code}' "http://127.0.0.1:$port/")
    if [ "$body" = $'hello\n200' ]; then
      echo "$agent: GET / → 200 hello"
    else
      echo "$agent: GET / answered $(printf %q "$body") instead of 200 hello"
      status=1
    fi
    echo "$agent: ${cmd[*]} --port $port --hostname 127.0.0.1; run.sh --url ws://127.0.0.1:$port/ws --agent $agent${FULL[*]:+ --full}"
    "$SUITE/run.sh" --url "ws://127.0.0.1:$port/ws" --agent "$agent" "${FULL[@]}" \
      > "$OUT/logs/summary-$agent.txt" 2>&1 &
    RPID=$!
    wait "$RPID"
    RPID=""
    cat "$OUT/run/timings.tsv" >> "$OUT/examples-timings.tsv" 2>/dev/null
    mkdir -p "$OUT/servers"
    [ -d "$OUT/run/servers/$agent" ] && mv "$OUT/run/servers/$agent" "$OUT/servers/"
    if ! stop_server; then
      echo "$agent: did not exit within 10 s of SIGTERM (killed)"
      status=1
    fi
  done
done

echo "== Autobahn TestSuite against the examples (reports: $OUT/servers)"
summary=$(/usr/bin/python3 "$SUITE/summarize.py" "$OUT" "$OUT/summary.json" "$OUT/examples-timings.tsv")
echo "$summary"
echo "$summary" | grep -qE 'FAILED [1-9]|NO REPORT' && status=1
exit $status
