#!/usr/bin/env bash
# The package's public types as a Node TypeScript user gets them: emits the
# declarations of the entry points from our sources (JSR's npm layer ships
# JavaScript and .d.ts, its relative imports ending in .js), then compiles
# consumer.ts against them with tsc and @types/node only: no Deno or Bun
# namespace, no DOM lib, no skipLibCheck: a declaration it loads that names
# `Deno.*` fails (src/runtime/deno.d.ts is emitted too, but only a dynamic
# import reaches it, so no declaration loads it). Run from .ci/run.
set -euo pipefail
cd "$(dirname "$0")"
out=../rt/node_modules/.cache/wsd-types
rm -rf "$out"
tsc -p tsconfig.emit.json
find "$out" -name '*.d.ts' -exec sed -i -E 's#(from |import\()"(\.{1,2}/[^"]*)\.ts"#\1"\2.js"#g' {} +
tsc -p tsconfig.consumer.json
echo "tools/types: the public declarations compile for Node (tsc $(tsc --version | cut -d' ' -f2), @types/node)"
