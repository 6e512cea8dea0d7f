// The reference child server of bench/reliability.ts: ws 8.23 on node:http,
// the same echo as server.ts (a message "throw" throws), and on SIGTERM every
// client is closed with 1001 and the servers are closed. Configured by
// WSD_RELIAB: JSON `{ server?: { maxLength?, perMessageDeflate? } }`.
import { createRequire } from "node:module";
import http from "node:http";
import process from "node:process";

const require = createRequire(import.meta.url);
const { WebSocketServer } = require("../../tools/rt/node_modules/ws/index.js");
const config = JSON.parse(process.env.WSD_RELIAB ?? "{}");
const options = config.server ?? {};

const server = http.createServer();
const wss = new WebSocketServer({
  server,
  maxPayload: options.maxLength ?? 0x3ffffff,
  perMessageDeflate: options.perMessageDeflate ?? false,
});
wss.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => {
    if (!isBinary && data.toString() === "throw") throw new Error("a listener failed on purpose");
    ws.send(data, { binary: isBinary });
  });
  ws.on("error", () => {});
});
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`READY ${server.address().port} ${process.pid}\n`);
});
process.on("SIGTERM", () => {
  const start = Date.now();
  for (const ws of wss.clients) ws.close(1001, "going away");
  wss.close();
  server.close(() => process.stdout.write(`CLOSED ${Date.now() - start}\n`));
  // ws waits for each closing handshake; a peer that never answers is cut after its closeTimeout (30 s)
  setTimeout(() => {
    for (const ws of wss.clients) ws.terminate();
  }, 5000).unref();
});
