#!/usr/bin/env bash
# Runs the whole test suite on Deno, Node 26 and Bun, the same files on each,
# then the tests that go through the runtime adapters (server, client,
# interop, runtime) a second time with WSD_BINDING=streams, the Web Streams
# binding (the first run uses the native one). Needs only Node and npm: the
# pinned runtimes (tools/rt/package.json) are installed from npm into
# tools/rt/node_modules first when they are missing. Ends with one line
# "all runtimes: N passed, M failed"; exits non-zero if any run failed.
set -uo pipefail
cd "$(dirname "$0")/.."
rt=tools/rt
bin=$rt/node_modules/.bin

have() { [ -x "$bin/$1" ] && "$bin/$1" --version 2>/dev/null | grep -q "$2"; }
pin() { node -p "require('./$rt/package.json').devDependencies['$1']"; }
if ! { have deno "$(pin deno)" && have bun "$(pin bun)" && have node "v$(pin node)" &&
  [ -d "$rt/node_modules/ws" ] && [ -d "$rt/node_modules/playwright-core" ] && [ -d "$rt/node_modules/redis" ]; }; then
  echo "Installing the pinned runtimes into $rt (npm ci)…"
  npm ci --prefix "$rt" --no-audit --no-fund --loglevel=error || exit 1
fi
# Real peers from Debian: headless Chromium, Python's websockets/wsproto,
# redis-server (the Redis backplane's tests start their own) and tinyproxy
# (the client's CONNECT proxy tests start their own).
if ! [ -x /usr/bin/chromium ] || ! /usr/bin/python3 -c "import websockets, wsproto" 2>/dev/null ||
  ! command -v redis-server >/dev/null || ! [ -x /usr/bin/tinyproxy ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing chromium, python3-websockets, python3-wsproto, redis-server and tinyproxy (apt-get)…"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      chromium python3-websockets python3-wsproto redis-server tinyproxy >/dev/null || exit 1
  else
    echo "The interop tests need Debian's chromium, python3-websockets, python3-wsproto, redis-server and tinyproxy:"
    echo "  sudo apt-get install chromium python3-websockets python3-wsproto redis-server tinyproxy"
    exit 1
  fi
fi
export PATH="$PWD/$bin:$PATH" NO_COLOR=1 RUST_BACKTRACE=0
log=$(mktemp -d)
status=0
total_pass=0
total_fail=0

run() { # name, command…
  local name=$1
  shift
  echo "━━━ $name: $*"
  timeout 900 "$@" 2>&1 | tee "$log/$name.txt"
  local rc=${PIPESTATUS[0]}
  if [ "$rc" -ne 0 ]; then
    echo "━━━ $name FAILED (exit $rc)"
    status=1
  fi
}

# tests/driver and tests/protocol never touch a runtime adapter (in-memory
# pairs, or Web streams made by hand): one run covers them.
binding_dirs=(tests/server tests/client tests/interop tests/runtime)
node_globs=() bun_dirs=()
for d in "${binding_dirs[@]}"; do
  node_globs+=("$d/**/*_test.ts")
  bun_dirs+=("./$d")
done
run deno deno test -A tests/
run deno-streams env WSD_BINDING=streams deno test -A "${binding_dirs[@]}"
run node node --test 'tests/**/*_test.ts'
run node-streams env WSD_BINDING=streams node --test "${node_globs[@]}"
run bun bun test --timeout 20000 ./tests/
run bun-streams env WSD_BINDING=streams bun test --timeout 20000 "${bun_dirs[@]}"

# Per-run counts, from each runner's own summary.
summary() { # name → "pass fail"
  local f="$log/$1.txt"
  case $1 in
  deno*)
    echo "$(grep -aoE '^(ok|FAILED) \| [0-9]+ passed( \([0-9]+ steps?\))?' "$f" | tail -1 | grep -oE '[0-9]+' | tail -1)" \
      "$(grep -aoE '\| [0-9]+ failed( \([0-9]+ steps?\))?' "$f" | tail -1 | grep -oE '[0-9]+' | tail -1)"
    ;;
  node*)
    echo "$(grep -aoE '^ℹ pass [0-9]+' "$f" | tail -1 | grep -oE '[0-9]+')" \
      "$(grep -aoE '^ℹ fail [0-9]+' "$f" | tail -1 | grep -oE '[0-9]+')"
    ;;
  bun*)
    echo "$(grep -aoE '^ *[0-9]+ pass$' "$f" | tail -1 | grep -oE '[0-9]+')" \
      "$(grep -aoE '^ *[0-9]+ fail$' "$f" | tail -1 | grep -oE '[0-9]+')"
    ;;
  esac
}
# The names of failed tests, so that the end of the output (all a CI log may
# keep) says which ones.
failures() { # name → lines
  local f="$log/$1.txt"
  case $1 in
  deno*) sed -n '/^ *FAILURES *$/,$p' "$f" | grep -aE ' => ' | sed 's/ => ext:.*$//' | sort -u ;;
  node*) sed -n '/^✖ failing tests:/,$p' "$f" | grep -aE '^(test at |✖ )' | grep -v 'failing tests:' |
    sed 's/ ([0-9.]*m\?s)$//' | paste -d' ' - - ;;
  bun*) grep -aE '^\(fail\) ' "$f" | sort -u ;;
  esac
}
echo
for r in deno deno-streams node node-streams bun bun-streams; do
  failed=$(failures "$r" | head -20)
  [ -z "$failed" ] || printf '%s failed:\n%s\n' "$r" "$failed" | sed '2,$s/^/  /'
done
for r in deno deno-streams node node-streams bun bun-streams; do
  read -r p f <<<"$(summary "$r")"
  if [ -z "$p" ]; then
    echo "$r: no test summary found"
    status=1
    continue
  fi
  echo "$r: $p passed, ${f:-0} failed"
  total_pass=$((total_pass + p))
  total_fail=$((total_fail + ${f:-0}))
done
rm -rf "$log"
[ "$total_pass" -gt 0 ] || status=1
[ "$total_fail" -eq 0 ] || status=1
echo "all runtimes: $total_pass passed, $total_fail failed"
exit $status
