/**
 * A Deno Deploy app: a page at `/` whose script connects back to `/ws` and
 * echoes, served by Deno's own server. On Deploy there is no raw socket, so
 * `makeServer` runs on the runtime's built-in WebSocket (pings cannot be sent
 * there; everything else is the same API).
 *
 *     deno run -A examples/deploy.ts        (then open http://localhost:8000/)
 *     deployctl deploy examples/deploy.ts   (on Deno Deploy)
 */
import { makeServer } from "../mod.ts";

const page = `<!doctype html>
<meta charset="utf-8">
<title>@x/wsd echo</title>
<h1>@x/wsd echo</h1>
<input id="text" value="Hi" autofocus> <button id="send">Send</button>
<pre id="log"></pre>
<script>
  const log = (line) => document.getElementById("log").textContent += line + "\\n";
  const ws = new WebSocket(location.origin.replace(/^http/, "ws") + "/ws", ["echo"]);
  ws.onopen = () => log("open, protocol " + ws.protocol);
  ws.onmessage = (e) => log("received: " + e.data);
  ws.onclose = (e) => log("closed " + e.code + " " + e.reason);
  document.getElementById("send").onclick = () => ws.send(document.getElementById("text").value);
</script>
`;

export function handler(request: Request): Response {
  const { pathname } = new URL(request.url);
  if (pathname === "/ws") {
    const ws = makeServer(request, { acceptProtocols: ["echo"], maxLength: 64 * 1024 });
    ws.on("message", (message) => ws.send(message));
    ws.on("error", (error) => console.error("error:", error.message));
    return ws.startConnection();
  }
  if (pathname === "/") return new Response(page, { headers: { "Content-Type": "text/html; charset=utf-8" } });
  return new Response("Not Found\n", { status: 404 });
}

if (import.meta.main) Deno.serve(handler);
