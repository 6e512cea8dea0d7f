/**
 * The frame parser, server side (masked input), against ws's Receiver. ws
 * unmasks in place, so both get a fresh copy of the input each time, as from
 * a socket read. `deno bench -A bench/`
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { Protocol } from "../../src/protocol/protocol.ts";
import { chunked, clientFrames, Receiver } from "./_frames.ts";

const TEXT = "0123456789abcdef0123456789abcdef"; // 32 bytes

{
  const input = clientFrames((p) => {
    for (let i = 0; i < 256; i++) p.sendText(TEXT);
  });
  Deno.bench({
    name: "wsd: 256 × 32 B text in one read",
    group: "pipelined",
    baseline: true,
    fn() {
      const p = new Protocol({ role: "server" });
      p.receiveData(input.slice());
      if (p.eventsReceived().length !== 256) throw new Error("lost messages");
    },
  });
  Deno.bench({
    name: "ws: 256 × 32 B text in one read",
    group: "pipelined",
    fn() {
      let n = 0;
      const r = new Receiver({ isServer: true, maxPayload: 0x3ffffff });
      r.on("message", () => n++);
      r.write(Buffer.from(input));
      if (n !== 256) throw new Error("lost messages");
    },
  });
}

{
  const input = clientFrames((p) => p.sendText(TEXT));
  const server = new Protocol({ role: "server" });
  Deno.bench({
    name: "wsd: 32 B text, one per read",
    group: "one per read",
    baseline: true,
    fn() {
      server.receiveData(input.slice());
      server.eventsReceived();
    },
  });
  let n = 0;
  const r = new Receiver({ isServer: true, maxPayload: 0x3ffffff });
  r.on("message", () => n++);
  Deno.bench({
    name: "ws: 32 B text, one per read",
    group: "one per read",
    fn() {
      r.write(Buffer.from(input));
    },
  });
}

{
  const payload = new Uint8Array(1 << 20).map((_, i) => i * 7);
  const chunks = chunked(clientFrames((p) => p.sendBinary(payload)), 65536);
  Deno.bench({
    name: "wsd: 1 MiB binary in 64 KiB reads",
    group: "1 MiB",
    baseline: true,
    fn() {
      const p = new Protocol({ role: "server" });
      for (const c of chunks) p.receiveData(c.slice());
      if (p.eventsReceived().length !== 1) throw new Error("lost the message");
    },
  });
  Deno.bench({
    name: "ws: 1 MiB binary in 64 KiB reads",
    group: "1 MiB",
    fn() {
      let n = 0;
      const r = new Receiver({ isServer: true, maxPayload: 0x3ffffff });
      r.on("message", () => n++);
      for (const c of chunks) r.write(Buffer.from(c));
      if (n !== 1) throw new Error("lost the message");
    },
  });
}
