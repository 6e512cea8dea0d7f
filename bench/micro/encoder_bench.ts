/**
 * The frame encoder against ws's Sender.frame: what an echo server writes for
 * one read of 256 small messages, and what a client writes for 1 MiB (masked).
 * `deno bench -A bench/`
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { Protocol } from "../../src/protocol/protocol.ts";
import { Sender } from "./_frames.ts";

const TEXT = "0123456789abcdef0123456789abcdef";

Deno.bench({
  name: "wsd: 256 × 32 B server text frames",
  group: "256 small",
  baseline: true,
  fn() {
    const p = new Protocol({ role: "server" });
    for (let i = 0; i < 256; i++) p.sendText(TEXT);
    p.dataToSend();
  },
});
Deno.bench({
  name: "ws: 256 × 32 B server text frames",
  group: "256 small",
  fn() {
    for (let i = 0; i < 256; i++) {
      Sender.frame(Buffer.from(TEXT), { fin: true, rsv1: false, opcode: 1, mask: false, readOnly: false });
    }
  },
});

const MiB = new Uint8Array(1 << 20).map((_, i) => i);
Deno.bench({
  name: "wsd: 1 MiB masked client frame",
  group: "1 MiB masked",
  baseline: true,
  fn() {
    const p = new Protocol({ role: "client" });
    p.sendBinary(MiB);
    p.dataToSend();
  },
});
const mib = Buffer.from(MiB);
Deno.bench({
  name: "ws: 1 MiB masked client frame",
  group: "1 MiB masked",
  fn() {
    // readOnly: true makes ws copy before masking, as we do (the caller's bytes stay unchanged).
    Sender.frame(mib, { fin: true, rsv1: false, opcode: 2, mask: true, readOnly: true });
  },
});
