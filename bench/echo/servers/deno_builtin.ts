// Deno.serve + Deno.upgradeWebSocket, Deno's own WebSocket.
import { ready } from "./_control.mjs";

Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: ({ port }) => ready(port) }, (request) => {
  const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout: 0 });
  socket.onmessage = (event) => socket.send(event.data);
  return response;
});
