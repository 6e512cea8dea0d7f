/**
 * The opening handshake, both ends, sans I/O: the HTTP/1.1 head parsers on a
 * browser-sized upgrade request and a 101 answer (whole and trickled in 64-byte
 * reads), the request and response checks, the accept key, and the extensions
 * header. `deno bench -A bench/micro/handshake_bench.ts`
 *
 * @module
 */
import { RequestHeadParser, ResponseHeadParser } from "../../src/protocol/http1.ts";
import {
  computeAcceptKey,
  createServerResponseHeaders,
  validateRequest,
  validateResponse,
} from "../../src/protocol/handshake.ts";
import { parseExtensions } from "../../src/protocol/extensions.ts";

const encoder = new TextEncoder();
const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const EXTENSIONS = "permessage-deflate; client_max_window_bits, permessage-deflate; server_no_context_takeover";

const request = encoder.encode(
  "GET /chat?room=1 HTTP/1.1\r\n" +
    "Host: example.com:8080\r\n" +
    "Connection: Upgrade\r\n" +
    "Pragma: no-cache\r\n" +
    "Cache-Control: no-cache\r\n" +
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n" +
    "Upgrade: websocket\r\n" +
    "Origin: https://example.com\r\n" +
    "Sec-WebSocket-Version: 13\r\n" +
    "Accept-Encoding: gzip, deflate, br\r\n" +
    "Accept-Language: en-US,en;q=0.9\r\n" +
    "Cookie: session=0123456789abcdef0123456789abcdef; theme=dark\r\n" +
    `Sec-WebSocket-Key: ${KEY}\r\n` +
    `Sec-WebSocket-Extensions: ${EXTENSIONS}\r\n` +
    "Sec-WebSocket-Protocol: chat, superchat\r\n\r\n",
);
const response = encoder.encode(
  "HTTP/1.1 101 Switching Protocols\r\n" +
    "Upgrade: websocket\r\n" +
    "Connection: Upgrade\r\n" +
    `Sec-WebSocket-Accept: ${computeAcceptKey(KEY)}\r\n` +
    "Sec-WebSocket-Protocol: chat\r\n\r\n",
);
const pieces: Uint8Array[] = [];
for (let at = 0; at < request.length; at += 64) pieces.push(request.subarray(at, at + 64));

Deno.bench({
  name: "RequestHeadParser, browser request in one read",
  group: "head",
  baseline: true,
  fn() {
    const result = new RequestHeadParser().push(request);
    if (result.state !== "done" || result.head.headers.get("upgrade") !== "websocket") throw new Error("not parsed");
  },
});
Deno.bench({
  name: "RequestHeadParser, browser request in 64 B reads",
  group: "head",
  fn() {
    const parser = new RequestHeadParser();
    let result = parser.push(pieces[0]);
    for (let i = 1; result.state === "incomplete"; i++) result = parser.push(pieces[i]);
    if (result.state !== "done") throw new Error("not parsed");
  },
});
Deno.bench({
  name: "ResponseHeadParser, 101 answer in one read",
  group: "head",
  fn() {
    const result = new ResponseHeadParser().push(response);
    if (result.state !== "done" || result.head.status !== 101) throw new Error("not parsed");
  },
});

const requestHeaders = (() => {
  const result = new RequestHeadParser().push(request);
  if (result.state !== "done") throw new Error("not parsed");
  return result.head.headers;
})();
const responseHeaders = new Headers({
  Upgrade: "websocket",
  Connection: "Upgrade",
  "Sec-WebSocket-Accept": computeAcceptKey(KEY),
  "Sec-WebSocket-Protocol": "chat",
  "Sec-WebSocket-Extensions": "permessage-deflate; server_no_context_takeover",
});

Deno.bench({
  name: "validateRequest + createServerResponseHeaders",
  group: "handshake",
  baseline: true,
  fn() {
    const check = validateRequest("GET", requestHeaders);
    if (!check.ok) throw new Error(check.message);
    createServerResponseHeaders(check.key, "chat");
  },
});
Deno.bench({
  name: "validateResponse",
  group: "handshake",
  fn() {
    const check = validateResponse(101, responseHeaders, {
      key: KEY,
      protocols: ["chat"],
      extensions: ["permessage-deflate"],
    });
    if (!check.ok) throw new Error(check.message);
  },
});
Deno.bench({
  name: "computeAcceptKey",
  group: "handshake",
  fn() {
    if (computeAcceptKey(KEY).length !== 28) throw new Error("wrong key");
  },
});
Deno.bench({
  name: "parseExtensions, two offers",
  group: "handshake",
  fn() {
    if (parseExtensions(EXTENSIONS)?.length !== 2) throw new Error("not parsed");
  },
});
