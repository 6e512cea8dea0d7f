/**
 * The chat of examples/chat.ts as a cluster: run it twice (or on many
 * machines) with the same Redis, and a message sent to one server reaches the
 * members connected to every other. One hub per process; Redis pub/sub is its
 * backplane.
 *
 *     redis-server --port 6379 --save "" --appendonly no &
 *     deno run -A examples/chat_cluster.ts --port 5001 --redis redis://127.0.0.1:6379
 *     deno run -A examples/chat_cluster.ts --port 5002 --redis redis://127.0.0.1:6379
 *
 * (also: node / bun examples/chat_cluster.ts …). Then open
 * http://localhost:5001/ and http://localhost:5002/ side by side. If Redis goes
 * away, each server keeps its own members talking, says so on stderr, and
 * reconnects by itself; `--port 0` picks a free port.
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { createHub, isWebSocketRequest, makeServer, serve } from "../mod.ts";
import { redisBackplane } from "../redis.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    port: { type: "string", default: "5001" },
    redis: { type: "string", default: "redis://127.0.0.1:6379" },
  },
});

const backplane = redisBackplane({ url: values.redis, prefix: "chat-example:" });
// A member who cannot keep up is closed (1008) rather than growing the server's memory.
const hub = createHub({ backplane, maxBufferedAmount: 256 * 1024, slowSubscriberPolicy: "close" });
hub.on("error", (error) => console.error(`backplane: ${error.message}`));
backplane.ready.then(() => console.log(`Connected to Redis at ${values.redis}`), () => {});

const page = `<!doctype html>
<meta charset="utf-8">
<title>@x/wsd chat cluster</title>
<h1>@x/wsd chat, served by <span id="node"></span></h1>
<pre id="log" style="height: 20em; overflow: auto; border: 1px solid #ccc"></pre>
<input id="text" size="60" autofocus placeholder="Say something and press Enter">
<script>
  document.getElementById("node").textContent = location.host;
  const log = document.getElementById("log");
  const ws = new WebSocket(location.origin.replace(/^http/, "ws") + "/chat");
  ws.onmessage = (e) => { log.textContent += e.data + "\\n"; log.scrollTop = log.scrollHeight; };
  ws.onclose = (e) => { log.textContent += "(disconnected: " + e.code + ")\\n"; };
  document.getElementById("text").onkeydown = (e) => {
    if (e.key === "Enter" && e.target.value) { ws.send(e.target.value); e.target.value = ""; }
  };
</script>
`;

let next = 1;
let port = 0;
let stopping = false;
const server = serve((request) => {
  if (!isWebSocketRequest(request)) {
    return new Response(page, { headers: { "Content-Type": "text/html; charset=utf-8" } });
  }
  const ws = makeServer(request, { maxLength: 4096 });
  const name = `guest${next++}@${port}`;
  ws.on("open", () => {
    hub.subscribe(ws, "room");
    hub.publish("room", `* ${name} joined`);
  });
  ws.on("message", (message) => {
    if (typeof message === "string") hub.publish("room", `${name}: ${message.slice(0, 500)}`);
  });
  ws.on("close", () => {
    if (!stopping) hub.publish("room", `* ${name} left`);
  });
  return ws.startConnection();
}, {
  port: Number(values.port),
  onListen: (addr) => {
    port = addr.port;
    console.log(`Chat on http://localhost:${port}/ (Redis: ${values.redis})`);
  },
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, async () => {
    stopping = true;
    await server.close();
    await hub.close();
    process.exit(0);
  });
}
