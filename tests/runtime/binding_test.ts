// WSD_BINDING picks the I/O binding of the runtime adapters: "native" (the
// default) or "streams"; anything else is a clear TypeError from the
// adapter (serve() and makeClient() report it), never a silent fallback.
// Each case runs in a child process of the same runtime.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { runtimeName } from "../../src/runtime/mod.ts";

const script = fileURLToPath(new URL("./_print_binding.ts", import.meta.url));

function run(value: string | undefined, denoFlags = ["-A"]): Promise<string> {
  const env: Record<string, string> = { ...process.env as Record<string, string>, NO_COLOR: "1" };
  delete env.WSD_BINDING;
  if (value !== undefined) env.WSD_BINDING = value;
  const args = runtimeName === "deno" ? ["run", ...denoFlags, script] : [script];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { env, timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stderr}`));
      else resolve(stdout.trim());
    });
  });
}

// The adapter a runtime uses natively (Bun's own sockets; the Node adapter with streams).
const nativeAdapter = runtimeName;
const streamsAdapter = runtimeName === "bun" ? "node" : runtimeName;

describe("WSD_BINDING", { timeout: 60_000 }, () => {
  it("unset or empty: the native binding", { timeout: 30_000 }, async () => {
    assert.equal(await run(undefined), `native ok ${nativeAdapter}`);
    assert.equal(await run(""), `native ok ${nativeAdapter}`);
  });

  it('"native" and "streams" pick their binding', { timeout: 30_000 }, async () => {
    assert.equal(await run("native"), `native ok ${nativeAdapter}`);
    assert.equal(await run("streams"), `streams ok ${streamsAdapter}`);
  });

  it("another value makes the adapter reject with a TypeError that names the variable", {
    timeout: 30_000,
  }, async () => {
    const out = await run("stream");
    assert.match(out, /^native error TypeError: Invalid WSD_BINDING="stream": use "native" or "streams"$/);
  });

  if (runtimeName === "deno") {
    it("on Deno without env access it is not read (and never prompted for)", { timeout: 30_000 }, async () => {
      assert.equal(await run("streams", ["--allow-read", "--allow-net"]), "native ok deno");
    });
  }
});
