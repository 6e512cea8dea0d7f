// faye's websocket-driver 0.8 on node:http, as its README wires it, plus one
// line: node:http leaves upgraded sockets half-open, and the driver never ends
// one whose peer left without a close frame, so each would stay open (and
// the handshake run would exhaust the file descriptors).
import { createRequire } from "node:module";
import http from "node:http";
import { ready } from "./_control.mjs";
const require = createRequire(import.meta.url);
const websocket = require("../../../tools/rt/node_modules/websocket-driver");

const server = http.createServer();
server.on("upgrade", (request, socket, body) => {
  if (!websocket.isWebSocket(request)) return socket.destroy();
  const driver = websocket.http(request, { maxLength: 64 << 20 });
  driver.io.write(body);
  socket.pipe(driver.io).pipe(socket);
  socket.on("error", () => {});
  socket.on("end", () => socket.end());
  driver.messages.on("data", (message) => driver.messages.write(message));
  driver.start();
});
server.listen(0, "127.0.0.1", () => ready(server.address().port));
