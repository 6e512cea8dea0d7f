// The entry points of topics: what mod.ts, topics.ts and redis.ts export, and
// the rule that the core stays nearly dependency-free: nothing reachable from
// mod.ts (or topics.ts) imports anything but relative modules and the DEFLATE
// codec `pako`, while redis.ts is the one entry that loads the npm package `redis`.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as mod from "../../mod.ts";
import * as topics from "../../topics.ts";
import * as redis from "../../redis.ts";

const root = new URL("../../", import.meta.url);

/** Every import specifier of `file` (static and dynamic imports, re-exports), comments stripped. */
function specifiers(file: URL): string[] {
  const code = readFileSync(fileURLToPath(file), "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
  return [
    ...[...code.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/g)].map((m) => m[1]),
    ...[...code.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1]), // dynamic imports
  ];
}

/** The bare (non-relative) specifiers reachable from `entry`, and every file reached. */
function graph(entry: string): { bare: Set<string>; files: Set<string> } {
  const bare = new Set<string>();
  const files = new Set<string>();
  const visit = (url: URL) => {
    if (files.has(url.href)) return;
    files.add(url.href);
    for (const specifier of specifiers(url)) {
      if (specifier.startsWith(".")) visit(new URL(specifier, url));
      else bare.add(specifier);
    }
  };
  visit(new URL(entry, root));
  return { bare, files };
}

describe("topics entry points", () => {
  it("mod.ts and topics.ts export the hub and the built-in backplanes; redis.ts the Redis one", () => {
    for (
      const name of [
        "createHub",
        "Hub",
        "BackplaneError",
        "inProcessBackplane",
        "InProcessBackplane",
        "broadcastChannelBackplane",
        "BroadcastChannelBackplane",
      ]
    ) {
      assert.ok(name in mod, `mod.ts should export ${name}`);
      assert.equal((topics as Record<string, unknown>)[name], (mod as Record<string, unknown>)[name], name);
    }
    assert.equal(typeof redis.redisBackplane, "function");
    assert.equal(typeof redis.RedisBackplane, "function");
    assert.ok(!("redisBackplane" in mod), "the Redis backplane is not in the core");
    assert.ok(!("sendEncodedFrame" in mod), "the driver's internal key is not public");
  });

  it("the core reaches only relative modules, the runtime adapters' node: built-ins, and the codec's pako", () => {
    const { bare, files } = graph("mod.ts");
    assert.ok(files.size > 10);
    // pako: the DEFLATE codec (DESIGN.md: a zlib-faithful codec, not our own), imported by src/codec/ only.
    for (const specifier of bare) assert.match(specifier, /^(node:|pako$)/, `mod.ts reaches ${specifier}`);
    for (const file of files) {
      if (specifiers(new URL(file)).includes("pako")) assert.match(file, /\/src\/codec\//, `${file} imports pako`);
    }
    for (const file of files) {
      if (!file.includes("/src/runtime/")) {
        assert.ok(!specifiers(new URL(file)).some((s) => s.startsWith("node:")), `${file} imports node:`);
      }
    }
    assert.deepEqual([...graph("topics.ts").bare].filter((s) => !s.startsWith("node:") && s !== "pako"), []);
  });

  it("redis.ts is the entry that imports `redis`, and names no runtime", () => {
    const { bare } = graph("redis.ts");
    assert.ok(bare.has("redis"));
    for (const file of ["redis.ts", "topics.ts"]) {
      const code = readFileSync(fileURLToPath(new URL(file, root)), "utf8").replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/\/\/.*$/gm, "");
      assert.doesNotMatch(code, /\bDeno\.|\bBun\.|["']node:/, `${file} names a runtime`);
    }
  });
});
