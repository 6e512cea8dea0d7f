/**
 * A small multi-user chat: one handler serves the page and the WebSocket; each
 * connection is read with `for await`, and serve()'s heartbeat drops clients
 * that vanished without closing.
 *
 *     deno run -A examples/chat.ts [port]      (also: node / bun examples/chat.ts)
 *
 * Then open http://localhost:5001/ in two browser tabs.
 */
import process from "node:process";
import { CloseError, isWebSocketRequest, makeServer, serve } from "../mod.ts";
import type { Server } from "../mod.ts";

const port = Number(process.argv[2] ?? 5001);
const members = new Set<Server>();

const page = `<!doctype html>
<meta charset="utf-8">
<title>@x/wsd chat</title>
<h1>@x/wsd chat</h1>
<pre id="log" style="height: 20em; overflow: auto; border: 1px solid #ccc"></pre>
<input id="text" size="60" autofocus placeholder="Say something and press Enter">
<script>
  const log = document.getElementById("log");
  const ws = new WebSocket(location.origin.replace(/^http/, "ws") + "/chat");
  ws.onmessage = (e) => { log.textContent += e.data + "\\n"; log.scrollTop = log.scrollHeight; };
  ws.onclose = (e) => { log.textContent += "(disconnected: " + e.code + ")\\n"; };
  document.getElementById("text").onkeydown = (e) => {
    if (e.key === "Enter" && e.target.value) { ws.send(e.target.value); e.target.value = ""; }
  };
</script>
`;

function broadcast(text: string): void {
  for (const member of members) {
    // A member whose send queue is full is closed (1008) rather than slowing everyone.
    if (member.readyState === "open") member.sendText(text);
  }
}

async function chat(ws: Server, name: string): Promise<void> {
  await ws.opened;
  members.add(ws);
  broadcast(`* ${name} joined (${members.size} here)`);
  try {
    for await (const message of ws) {
      if (typeof message === "string") broadcast(`${name}: ${message.slice(0, 500)}`);
    }
  } catch (error) {
    if (!(error instanceof CloseError)) throw error;
  } finally {
    members.delete(ws);
    broadcast(`* ${name} left`);
  }
}

let next = 1;
const server = serve((request, { remoteAddr }) => {
  if (!isWebSocketRequest(request)) {
    return new Response(page, { headers: { "Content-Type": "text/html; charset=utf-8" } });
  }
  const ws = makeServer(request, { maxLength: 4096, outgoingHighWaterMark: 256 * 1024, sendQueuePolicy: "close" });
  const name = `guest${next++}@${remoteAddr.hostname}`;
  chat(ws, name).catch((error) => console.error(error));
  return ws.startConnection();
}, { port, onListen: ({ port }) => console.log(`Chat on http://localhost:${port}/`) });

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, async () => {
    await server.close();
    process.exit(0);
  });
}
