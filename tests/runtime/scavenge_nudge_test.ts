// Node's payload allocator (src/runtime/memory.ts, nodePayloadAllocator) makes
// young JavaScript garbage as large payloads are allocated, so that V8 runs its
// scavenger, which frees dead young message buffers, instead of leaving them
// to the next mark-compact. On Node the scavenges are counted (performance
// entries of kind "gc"): without the change 0–1 while 64 MiB of dead 1 MiB
// payloads are allocated, with it ~20. Everywhere: the buffers it returns are
// zero-filled and exactly their length, and small payloads make no garbage.
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { constants, PerformanceObserver } from "node:perf_hooks";
import { payloadBuffer, usePayloadAllocator } from "../../src/protocol/reader.ts";
import { installPayloadAllocator, nodePayloadAllocator, NUDGED_PAYLOAD } from "../../src/runtime/memory.ts";
import { runtimeName } from "../../src/runtime/mod.ts";

/** Minor collections while `count` dead payloads of `length` bytes are allocated. */
async function scavengesDuring(count: number, length: number): Promise<number> {
  let minors = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if ((entry as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) minors++;
    }
  });
  observer.observe({ entryTypes: ["gc"] });
  let touched = 0;
  for (let i = 0; i < count; i++) {
    const payload = payloadBuffer(length);
    payload[i % length] = 1;
    touched += payload[i % length];
  }
  assert.equal(touched, count);
  await new Promise((resolve) => setTimeout(resolve, 100));
  observer.disconnect();
  return minors;
}

describe("Node's payload allocator (nodePayloadAllocator)", () => {
  afterEach(() => usePayloadAllocator(null));

  it("returns zero-filled buffers of exactly the length, in ArrayBuffers of their own", () => {
    for (const length of [0, 1, NUDGED_PAYLOAD - 1, NUDGED_PAYLOAD, 1 << 20, (1 << 20) + 3]) {
      for (let i = 0; i < 3; i++) {
        const payload = nodePayloadAllocator(length);
        assert.equal(Object.getPrototypeOf(payload), Uint8Array.prototype);
        assert.equal(payload.byteOffset, 0);
        assert.equal(payload.buffer.byteLength, length);
        assert.ok(payload.every((b) => b === 0), `${length} bytes zero-filled`);
        payload.fill(0xee);
      }
    }
  });

  if (runtimeName === "node") {
    it("runs the scavenger while large payloads are allocated (and not for small ones)", async () => {
      installPayloadAllocator("node");
      const large = await scavengesDuring(64, 1 << 20);
      assert.ok(large >= 8, `${large} scavenges during 64 MiB of 1 MiB payloads`);
      const small = await scavengesDuring(512, NUDGED_PAYLOAD - 1);
      assert.ok(small <= 2, `${small} scavenges during 512 payloads just under NUDGED_PAYLOAD`);
    });
  }
});
