/**
 * The driver (src/driver/driver.ts) from construction to `open`, over
 * in-memory streams: the options it takes and rejects, attaching a transport
 * and the `open` event (RFC 6455 §4: the driver starts once the opening
 * handshake is done elsewhere).
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { WebSocketDriver } from "../../src/driver/driver.ts";
import { bytes, closePayload, CountingTransport, FIXED_KEY, OP, RawPeer, withTimeout } from "./_pair.ts";

// ───────────────────────────── construction ─────────────────────────────

describe("WebSocketDriver: construction and options", () => {
  it("version is hybi-13, and a new driver is connecting with nothing attached", () => {
    const ws = new WebSocketDriver("server");
    assert.equal(ws.version, "hybi-13");
    assert.equal(ws.readyState, "connecting");
    assert.equal(ws.protocol, null);
    assert.equal(ws.socket, null);
    assert.equal(ws.bufferedAmount, 0);
    assert.equal(ws.role, "server");
    assert.equal(new WebSocketDriver("client").role, "client");
  });

  it("rejects an unknown role with a TypeError", () => {
    assert.throws(() => new WebSocketDriver("peer" as "server"), {
      name: "TypeError",
      message: /role "peer"/,
    });
  });

  it("rejects unknown option keys with a TypeError naming the key", () => {
    assert.throws(
      () => new WebSocketDriver("server", { maxLenght: 10 } as never),
      {
        name: "TypeError",
        message: /Unknown option "maxLenght"/,
      },
    );
    assert.throws(
      () => new WebSocketDriver("server", { acceptProtocols: [] } as never),
      TypeError,
    );
  });

  it("rejects options that are not an object, and bad values", () => {
    assert.throws(
      () => new WebSocketDriver("server", null as never),
      TypeError,
    );
    assert.throws(() => new WebSocketDriver("server", 5 as never), TypeError);
    assert.throws(
      () => new WebSocketDriver("server", { maxLength: -1 }),
      RangeError,
    );
    assert.throws(
      () => new WebSocketDriver("server", { maxLength: 1.5 }),
      RangeError,
    );
    assert.throws(
      () => new WebSocketDriver("server", { closeTimeout: NaN }),
      RangeError,
    );
    assert.throws(
      () => new WebSocketDriver("server", { closeTimeout: -1 }),
      RangeError,
    );
    assert.throws(
      () => new WebSocketDriver("client", { maskKey: 5 as never }),
      TypeError,
    );
    // Known keys with valid values are fine.
    new WebSocketDriver("client", {
      maxLength: 0,
      closeTimeout: 0,
      maskKey: FIXED_KEY,
    });
    new WebSocketDriver("server", {});
  });
});

// ───────────────────────────── attach and open ─────────────────────────────

describe("WebSocketDriver: attach and open", () => {
  it("emits open asynchronously, never inside attach()", async () => {
    const peer = new RawPeer("server", undefined, null, false);
    peer.attach();
    assert.deepEqual(peer.rec.names(), []);
    assert.equal(peer.driver.readyState, "connecting");
    await withTimeout(peer.rec.opened, "open");
    assert.equal(peer.driver.readyState, "open");
    assert.deepEqual(peer.rec.names(), ["open"]);
  });

  it("protocol returns the attach() argument, socket the stream pair or transport", async () => {
    const peer = new RawPeer("server", undefined, "chat.v2");
    assert.equal(peer.driver.protocol, "chat.v2");
    const socket = peer.driver.socket as {
      readable: unknown;
      writable: unknown;
    };
    assert.equal(socket.readable, peer.readable);
    assert.equal(socket.writable, peer.writable);
    await peer.rec.opened;
    assert.equal(peer.driver.protocol, "chat.v2");

    const driver = new WebSocketDriver("client");
    const transport = new CountingTransport();
    driver.attach(transport);
    assert.equal(driver.socket, transport);
    assert.equal(driver.protocol, null);
    driver.closeConnection();
  });

  it("a second attach() throws a TypeError", () => {
    const peer = new RawPeer("server");
    assert.throws(() => peer.attach(), {
      name: "TypeError",
      message: /Cannot attach/,
    });
  });

  it("open comes before any message, even when input is already waiting", async () => {
    const peer = new RawPeer("server", undefined, null, false);
    peer.sendFrame(OP.TEXT, "early");
    peer.sendFrame(OP.BINARY, bytes([1, 2, 3]));
    peer.attach();
    await withTimeout(peer.rec.nextMessages(2), "two messages");
    assert.deepEqual(peer.rec.events.map((e) => e[0]), [
      "open",
      "message",
      "message",
    ]);
    assert.equal(peer.rec.events[1][1], "early");
    assert.deepEqual(peer.rec.events[2][1], bytes([1, 2, 3]));
  });

  it("readyState goes connecting → open → closing → closed", async () => {
    const peer = new RawPeer("server");
    const ws = peer.driver;
    const seen = [ws.readyState];
    ws.on("open", () => seen.push(ws.readyState));
    ws.on("close", () => seen.push(ws.readyState));
    await peer.rec.opened;
    ws.closeConnection();
    seen.push(ws.readyState);
    const close = await peer.readFrame();
    assert.equal(close.opcode, OP.CLOSE);
    peer.sendFrame(OP.CLOSE, closePayload(1000));
    await peer.outputDone();
    seen.push(ws.readyState);
    peer.endInput();
    await withTimeout(peer.rec.closed, "close");
    seen.push(ws.readyState);
    assert.deepEqual(seen, [
      "connecting",
      "open",
      "closing",
      "closing",
      "closed",
      "closed",
    ]);
  });
});
