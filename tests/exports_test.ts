// The public surface, and the layering rule of DESIGN.md: no library file
// outside src/runtime/ names Deno, Bun or a node: module.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as mod from "../mod.ts";
import * as server from "../server.ts";
import * as client from "../client.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = `${dir}/${name}`;
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else if (name.endsWith(".ts")) out.push(path);
  }
  return out;
}

describe("exports", () => {
  it("mod.ts exports the driver, its helpers and both handshake sides", () => {
    for (
      const name of [
        "WebSocketDriver",
        "EventEmitter",
        "streamTransport",
        "ProtocolError",
        "CloseCode",
        "DEFAULT_MAX_LENGTH",
        "DEFAULT_CLOSE_TIMEOUT",
        "isWebSocketRequest",
        "validateRequest",
        "selectProtocol",
        "computeAcceptKey",
        "createServerResponseHeaders",
        "generateKey",
        "createClientRequestHeaders",
        "validateResponse",
        "makeServer",
        "Server",
        "HandshakeError",
        "serve",
        "availableBackends",
        "handleUpgrade",
        "makeClient",
        "Client",
        "WebSocket",
      ]
    ) {
      assert.ok(name in mod, `mod.ts should export ${name}`);
    }
    assert.equal(mod.DEFAULT_MAX_LENGTH, 0x3ffffff);
  });

  it("server.ts and client.ts export their side of the handshake", () => {
    assert.equal(typeof server.validateRequest, "function");
    assert.equal(typeof server.isWebSocketRequest, "function");
    assert.equal(typeof client.validateResponse, "function");
    assert.equal(typeof client.generateKey, "function");
    assert.equal(typeof server.makeServer, "function");
    assert.equal(typeof server.serve, "function");
    assert.equal(typeof client.makeClient, "function");
    assert.equal(server.WebSocketDriver, client.WebSocketDriver);
    assert.equal(client.WebSocket, mod.WebSocket);
    assert.equal(mod.WebSocket.OPEN, 1);
  });

  it("the driver has every verb of the seed's API", () => {
    const ws = new mod.WebSocketDriver("server");
    for (
      const verb of [
        "on",
        "once",
        "off",
        "removeListener",
        "removeAllListeners",
        "listeners",
        "listenerCount",
        "emit",
        "send",
        "sendText",
        "sendBinary",
        "sendPing",
        "closeConnection",
        "attach",
      ] as const
    ) {
      assert.equal(typeof ws[verb], "function", `missing ${verb}`);
    }
    assert.equal(ws.version, "hybi-13");
    assert.equal(ws.readyState, "connecting");
    assert.equal(ws.protocol, null);
  });
});

describe("layering (DESIGN.md)", () => {
  it("no library file outside src/runtime/ names Deno, Bun or node:", () => {
    const files = [
      ...filesUnder(`${root}src`).filter((f) => !f.includes("/src/runtime/")),
      `${root}mod.ts`,
      `${root}server.ts`,
      `${root}client.ts`,
    ];
    assert.ok(files.length > 5);
    for (const file of files) {
      const code = readFileSync(file, "utf8")
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/\/\/.*$/gm, "");
      assert.doesNotMatch(
        code,
        /\bDeno\.|\bBun\.|["']node:/,
        `${file} names a runtime`,
      );
    }
  });

  it("the protocol layer has no timers and no I/O", () => {
    for (const file of filesUnder(`${root}src/protocol`)) {
      const code = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/\/\/.*$/gm, "");
      assert.doesNotMatch(
        code,
        /\b(setTimeout|setInterval|fetch|queueMicrotask)\s*\(/,
        `${file} uses a timer or I/O`,
      );
    }
  });
});
