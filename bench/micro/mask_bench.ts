/**
 * Unmasking (RFC 6455 §5.3): maskInPlace (at 1 MiB its WebAssembly SIMD path,
 * at 32 B its byte loop) against a byte loop, and against ws's bufferutil (a
 * native addon) when it loads. `deno bench -A bench/`; every variant on all
 * three runtimes and every size: unmask_bench.ts.
 *
 * @module
 */
import { createRequire } from "node:module";
import { maskInPlace } from "../../src/protocol/mask.ts";

const require = createRequire(import.meta.url);
// deno-lint-ignore no-explicit-any
let bufferutil: any = null;
try {
  bufferutil = require("../../tools/rt/node_modules/bufferutil");
} catch {
  // No native addon here: its row is left out.
}

const KEY = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
const buffer = new Uint8Array((1 << 20) + 1);
const aligned = buffer.subarray(0, 1 << 20);
const unaligned = buffer.subarray(1, (1 << 20) + 1);

function byteLoop(data: Uint8Array, key: Uint8Array): void {
  for (let i = 0; i < data.length; i++) data[i] ^= key[i & 3];
}

for (const [what, data] of [["aligned", aligned], ["unaligned", unaligned]] as const) {
  Deno.bench({
    name: `maskInPlace, 1 MiB ${what}`,
    group: `1 MiB ${what}`,
    baseline: true,
    fn: () => maskInPlace(data, KEY),
  });
  Deno.bench({ name: `byte loop, 1 MiB ${what}`, group: `1 MiB ${what}`, fn: () => byteLoop(data, KEY) });
  if (bufferutil !== null) {
    Deno.bench({
      name: `bufferutil.unmask (native), 1 MiB ${what}`,
      group: `1 MiB ${what}`,
      fn: () => bufferutil.unmask(data, KEY),
    });
  }
}

const small = new Uint8Array(32);
Deno.bench({ name: "maskInPlace, 32 B", group: "32 B", baseline: true, fn: () => maskInPlace(small, KEY) });
Deno.bench({ name: "byte loop, 32 B", group: "32 B", fn: () => byteLoop(small, KEY) });
