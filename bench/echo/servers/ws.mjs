// ws 8 with bufferutil (its native masking addon), on Node.
import { createRequire } from "node:module";
import { ready } from "./_control.mjs";
const require = createRequire(import.meta.url);
const { WebSocketServer } = require("../../../tools/rt/node_modules/ws");
require("../../../tools/rt/node_modules/bufferutil"); // fails loudly if missing; ws picks it up itself

const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, maxPayload: 64 << 20 }, () => ready(wss.address().port));
wss.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on("error", () => {});
});
