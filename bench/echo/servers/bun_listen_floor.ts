// The floor of a handshake on Bun's raw sockets (Bun.listen, as the tcp backend uses them): the request head read, a
// fixed 101 written, the socket closed once the peer ends. With FLOOR=fetch it also makes what every handshake of ours
// makes of Bun's Fetch objects (a `Request` with the five fields appended, the handshake's `headers.get` calls, a
// `Response` with the 101's three fields, the accept key's SHA-1); with FLOOR=parse it parses the head with our
// `RequestHeadParser`, and FLOOR=fetch,parse does both. Not a WebSocket server: for the `handshake`
// scenario of bench/micro/handshake_ab.ts only. Findings: bench/RESULTS.md, "Fifth round, Bun: handshakes".
import { ready } from "./_control.mjs";
import { RequestHeadParser } from "../../../src/protocol/http1.ts";

interface FloorSocket {
  write(data: Uint8Array): number;
  close(): void;
}
declare const Bun: {
  listen(options: unknown): { port: number };
  SHA1: { hash(data: string, encoding: "base64"): string };
};

const head = new TextEncoder().encode(
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
);
const floor = ((globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.FLOOR ?? "")
  .split(",");
const fetchObjects = floor.includes("fetch");
const parse = floor.includes("parse");
const limits = { maxHeadSize: 16384, maxHeaders: 100 };

function makeFetchObjects(): void {
  const request = new Request("http://127.0.0.1/");
  const fields = request.headers;
  fields.append("host", "127.0.0.1");
  fields.append("upgrade", "websocket");
  fields.append("connection", "Upgrade");
  fields.append("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
  fields.append("sec-websocket-version", "13");
  fields.get("upgrade");
  fields.get("connection");
  const key = fields.get("sec-websocket-key");
  fields.get("sec-websocket-version");
  const response = new Response(null);
  response.headers.append("upgrade", "websocket");
  response.headers.append("connection", "Upgrade");
  response.headers.append(
    "sec-websocket-accept",
    Bun.SHA1.hash(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`, "base64"),
  );
}

const listener = Bun.listen({
  hostname: "127.0.0.1",
  port: 0,
  allowHalfOpen: true,
  socket: {
    binaryType: "uint8array",
    data(socket: FloorSocket, data: Uint8Array) {
      if (parse && new RequestHeadParser(limits).push(data).state !== "done") throw new Error("not a whole head");
      if (fetchObjects) makeFetchObjects();
      socket.write(head);
    },
    drain() {},
    end(socket: FloorSocket) {
      socket.close();
    },
    close() {},
    error() {},
  },
});
ready(listener.port);
