// send(data, { compress: false }): one message left uncompressed under
// permessage-deflate; unknown send options are a TypeError.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { makeClient } from "../../client.ts";
import { makeServer, serve, WebSocketDriver } from "../../mod.ts";
import { parseFrames, startFakeServer, startWsServer } from "./_servers.ts";
import { parseHead, RawClient, requestHead } from "../server/_util.ts";

describe("send options", () => {
  it("compress: false sends that message without RSV1, the others compressed (frames as the server saw them)", async () => {
    const fake = await startFakeServer((c) => c.accept({ "Sec-WebSocket-Extensions": "permessage-deflate" }));
    try {
      const client = makeClient(fake.url, { perMessageDeflate: { threshold: 0 } });
      client.startConnection();
      await client.opened;
      assert.equal(client.extensions, "permessage-deflate");
      const text = "a".repeat(2000);
      const bytes = new Uint8Array(2000).fill(7);
      client.send(text);
      client.send(text, { compress: false });
      client.sendBinary(bytes, { compress: false });
      client.sendBinary(bytes, { compress: true });
      client.sendText(text, {});
      const frames = await (await fake.nextConnection()).frames(5);
      assert.deepEqual(frames.map((f) => f.rsv), [0x40, 0, 0, 0x40, 0x40], "RSV1 on the compressed frames");
      assert.deepEqual(frames.map((f) => f.opcode), [1, 1, 2, 2, 1]);
      assert.ok(frames[0].payload.length < 100);
      assert.equal(new TextDecoder().decode(frames[1].payload), text);
      assert.deepEqual(frames[2].payload, bytes);
      client.terminate();
      await client.closed;
    } finally {
      await fake.close();
    }
  });

  it("messages sent uncompressed still reach a ws peer intact, interleaved with compressed ones", async () => {
    const server = await startWsServer({ perMessageDeflate: { threshold: 0 } });
    try {
      const client = makeClient(server.url, { perMessageDeflate: { threshold: 0 } });
      const got: Array<string | Uint8Array> = [];
      const four = new Promise<void>((resolve) => client.on("message", (m) => got.push(m) === 4 && resolve()));
      client.startConnection();
      const sent = ["x".repeat(5000), "y".repeat(5000), "z", "w".repeat(100)];
      client.send(sent[0], { compress: false });
      client.send(sent[1]);
      client.send(sent[2], { compress: false });
      client.send(sent[3]);
      await four;
      assert.deepEqual(got, sent);
      client.closeConnection();
      await client.closed;
    } finally {
      await server.close();
    }
  });

  it("a server's send(data, { compress: false }) too (ours with ours)", async () => {
    const server = serve((request) => {
      const ws = makeServer(request, { perMessageDeflate: { threshold: 0 } });
      ws.on("message", (m) => ws.send(m, { compress: false }));
      return ws.startConnection();
    }, { port: 0, hostname: "127.0.0.1" });
    const { port } = await server.ready;
    try {
      const client = makeClient(`ws://127.0.0.1:${port}/`, { perMessageDeflate: true });
      const echoed = new Promise((resolve) => client.once("message", resolve));
      client.startConnection();
      client.send("echo me".repeat(300));
      assert.equal(await echoed, "echo me".repeat(300));
      client.closeConnection();
      await client.closed;
    } finally {
      await server.close();
    }
  });

  it("a server's compress: false holds for sends before startConnection() and after open (frames as a raw client saw them)", async () => {
    const text = "b".repeat(2000);
    const server = serve((request) => {
      const ws = makeServer(request, { perMessageDeflate: { threshold: 0 } });
      ws.send(text, { compress: false }); // before the handshake: queued
      ws.send(text);
      ws.on("open", () => {
        ws.sendBinary(new Uint8Array(2000), { compress: false });
        ws.send(text);
      });
      return ws.startConnection();
    }, { port: 0, hostname: "127.0.0.1" });
    const { port } = await server.ready;
    const raw = await RawClient.connect(port);
    try {
      raw.write(requestHead({ headers: { "Sec-WebSocket-Extensions": "permessage-deflate" } }));
      const head = await raw.readHead();
      assert.equal(head.status, 101);
      assert.match(head.headers.get("sec-websocket-extensions") ?? "", /^permessage-deflate/);
      const frames = () => parseFrames(raw.bytes().subarray(raw.bytes().length - parseHead(raw.bytes()).rest.length));
      await raw.until(() => frames().length >= 4, "four frames");
      assert.deepEqual(frames().map((f) => [f.opcode, f.rsv]), [[1, 0], [1, 0x40], [2, 0], [1, 0x40]]);
      assert.equal(new TextDecoder().decode(frames()[0].payload), text);
      assert.ok(frames()[1].payload.length < 100);
    } finally {
      await raw.close();
      await server.close();
    }
  });

  it("an unknown key or a compress that is not a boolean is a TypeError; nothing is sent", () => {
    const ws = new WebSocketDriver("client");
    assert.throws(() => ws.send("x", { compres: false } as never), /Unknown option "compres" in send options/);
    assert.throws(() => ws.sendText("x", { compress: "no" } as never), TypeError);
    assert.throws(() => ws.sendBinary(new Uint8Array(1), { binary: true } as never), TypeError);
    assert.throws(() => ws.send(new Uint8Array(1), null as never), TypeError);
    assert.equal(ws.bufferedAmount, 0);
    assert.equal(ws.send("x", { compress: false }), true);
  });

  it("the same options object for every message; a key inherited from its prototype is not checked", () => {
    const ws = new WebSocketDriver("client");
    const options = { compress: false };
    for (let i = 0; i < 3; i++) assert.equal(ws.send("x", options), true);
    assert.equal(ws.send("x", Object.create({ extra: 1 })), true);
    const inherited = Object.assign(Object.create({ extra: 1 }), { compres: true });
    assert.throws(() => ws.send("x", inherited), /Unknown option "compres" in send options/);
    assert.throws(() => ws.send("x", "compress" as never), /Invalid send options: expected an object, got string/);
  });
});
