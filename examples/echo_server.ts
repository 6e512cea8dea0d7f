/**
 * The seed's echo server: every message comes back to its sender.
 *
 *     deno run -A examples/echo_server.ts [port]     (also: node / bun examples/echo_server.ts)
 *
 * Until `serve()` lands, this example does the opening handshake itself on a
 * `node:http` server's `upgrade` event (which Deno, Bun and Node all provide)
 * with the pure handshake functions of `@x/wsd/server`, then runs a
 * WebSocketDriver over the raw socket's Web streams.
 *
 * Try it with any client, e.g. a browser console:
 * `s = new WebSocket("ws://localhost:5000/echo"); s.onmessage = (e) => console.log(e.data); s.onopen = () => s.send("Hi")`
 */
import { createServer } from "node:http";
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { Duplex } from "node:stream";
import {
  createServerResponseHeaders,
  validateRequest,
  WebSocketDriver,
} from "../mod.ts";

const port = Number(globalThis.process?.argv?.[2] ?? 5000);

const server = createServer((_req, res) => {
  res.writeHead(426, { "Content-Type": "text/plain", Upgrade: "websocket" });
  res.end("This is a WebSocket echo server: connect with ws://\n");
});

server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  }
  const check = validateRequest(req.method ?? "", headers);
  if (!check.ok) {
    let answer =
      `HTTP/1.1 ${check.status} Bad Request\r\nConnection: close\r\nContent-Type: text/plain\r\n`;
    check.headers.forEach((value, name) => answer += `${name}: ${value}\r\n`);
    socket.end(
      `${answer}Content-Length: ${
        check.message.length + 1
      }\r\n\r\n${check.message}\n`,
    );
    return;
  }
  let answer = "HTTP/1.1 101 Switching Protocols\r\n";
  createServerResponseHeaders(check.key, null).forEach((value, name) =>
    answer += `${name}: ${value}\r\n`
  );
  socket.write(answer + "\r\n");
  socket.setNoDelay(true);
  if (head.length > 0) socket.unshift(head);

  const ws = new WebSocketDriver("server");
  ws.on(
    "open",
    () => console.log(`open    ${socket.remoteAddress}:${socket.remotePort}`),
  );
  ws.on("message", (message) => ws.send(message));
  ws.on(
    "error",
    (error) => console.log(`error   ${error.code} ${error.message}`),
  );
  ws.on("close", (code, reason) => console.log(`close   ${code} ${reason}`));
  const { readable, writable } = Duplex.toWeb(socket);
  ws.attach({
    readable: readable as ReadableStream<Uint8Array>,
    writable: writable as WritableStream<Uint8Array>,
  });
});

server.listen(
  port,
  () => console.log(`Echo server listening on ws://localhost:${port}/echo`),
);
