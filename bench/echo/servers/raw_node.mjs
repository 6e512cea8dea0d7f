// Raw TCP echo on Node (node:net, socket events): see _raw.mjs. The pieces of
// one read leave in one writev (cork/uncork).
import { createServer } from "node:net";
import process from "node:process";
import { ready } from "./_control.mjs";
import { makeEcho } from "./_raw.mjs";

const server = createServer({ noDelay: true }, (socket) => {
  const reframer = makeEcho(process.env);
  socket.on("data", (chunk) => {
    const pieces = reframer.push(chunk);
    if (pieces.length === 1) socket.write(pieces[0]);
    else if (pieces.length > 1) {
      socket.cork();
      for (const p of pieces) socket.write(p);
      socket.uncork();
    }
  });
  socket.on("error", () => {});
});
server.listen(0, "127.0.0.1", () => ready(server.address().port));
