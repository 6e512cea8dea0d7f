/**
 * What the pieces of a server handshake cost on each runtime, one process per
 * runtime (not `Deno.bench`: the point is the three runtimes side by side):
 *
 *     node bench/micro/handshake_costs.ts
 *     deno run -A bench/micro/handshake_costs.ts
 *     bun bench/micro/handshake_costs.ts
 *
 * The Fetch objects a handshake makes (`Request`, `Response`) with the inputs
 * the tcp backend could give them, the accept key (ours and the runtime's
 * `node:crypto`), a timer set and cleared, an `Error`. Prints µs per call;
 * compare within a column. Findings: bench/RESULTS.md, "Handshakes and idle
 * connections: where the cost goes".
 *
 * @module
 */
import { createHash } from "node:crypto";
import { computeAcceptKey } from "../../src/protocol/handshake_keys.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const keys = Array.from({ length: 1024 }, (_, i) => `dGhlIHNhbXBsZSBub25j${String(1000 + i)}==`);

function bench(name: string, n: number, fn: (i: number) => unknown): void {
  for (let i = 0; i < n / 5; i++) fn(i);
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn(i);
    best = Math.min(best, (performance.now() - t0) * 1000 / n);
  }
  console.log(`${name.padEnd(58)} ${best.toFixed(2).padStart(7)} µs`);
}

/** The request fields as the tcp backend gives them to Request: a record without prototype. */
function requestFields(): Record<string, string> {
  const r: Record<string, string> = Object.create(null);
  r.host = "127.0.0.1:1234";
  r.upgrade = "websocket";
  r.connection = "Upgrade";
  r["sec-websocket-key"] = keys[0];
  r["sec-websocket-version"] = "13";
  return r;
}

/** The 101's fields as the server makes them. */
function answerFields(): Record<string, string> {
  const r: Record<string, string> = Object.create(null);
  r.upgrade = "websocket";
  r.connection = "Upgrade";
  r["sec-websocket-accept"] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
  return r;
}

const runtime = "Bun" in globalThis ? "Bun" : "Deno" in globalThis ? "Deno" : "Node";
console.log(`${runtime}: µs per call (best of 3 rounds)`);
bench("accept key: computeAcceptKey (src/protocol/sha1.ts)", 200_000, (i) => computeAcceptKey(keys[i & 1023]));
bench(
  "accept key: node:crypto createHash('sha1')",
  200_000,
  (i) => createHash("sha1").update(keys[i & 1023] + GUID).digest("base64"),
);
bench(
  "new Request(new URL(…), { method, headers, body, duplex })",
  50_000,
  () =>
    new Request(new URL("/", "http://127.0.0.1:1234"), {
      method: "GET",
      headers: requestFields(),
      body: undefined,
      duplex: "half",
    } as RequestInit),
);
bench(
  "new Request(string, { method, headers, body, duplex })",
  50_000,
  () =>
    new Request("http://127.0.0.1:1234/", {
      method: "GET",
      headers: requestFields(),
      body: undefined,
      duplex: "half",
    } as RequestInit),
);
bench(
  "new Request(string, { headers })",
  50_000,
  () => new Request("http://127.0.0.1:1234/", { headers: requestFields() }),
);
bench(
  "new Response(null, { status: 200, headers })",
  50_000,
  () => new Response(null, { status: 200, headers: answerFields() }),
);
bench("new Response(null, { headers })", 50_000, () => new Response(null, { headers: answerFields() }));
bench("new Response(null, { headers }), then iterate its headers", 50_000, () => {
  let s = "";
  for (const [k, v] of new Response(null, { headers: answerFields() }).headers) s += k + v;
  return s;
});
bench("setTimeout + clearTimeout", 100_000, () => clearTimeout(setTimeout(() => {}, 10_000)));
bench("new Error", 100_000, () => new Error("The connection closed"));
