// What a Node TypeScript user writes against the published package: tools/types/check.sh
// compiles it with tsc, @types/node and no DOM lib against the declarations emitted from
// our sources (as JSR's npm layer ships them), so a public type that needs `Deno.*`,
// `Bun.*` or the DOM lib fails there. `deno check .` checks it against the sources.
import { createHub, makeClient, makeServer, serve, WebSocket, WebSocketDriver } from "@x/wsd";
import type { Client, ClientOptions, ReadyState, ServeHandle, ServeOptions, Server } from "@x/wsd";
import { makeServer as makeServer2 } from "@x/wsd/server";
import { makeClient as makeClient2 } from "@x/wsd/client";
import { inProcessBackplane } from "@x/wsd/topics";
import { redisBackplane } from "@x/wsd/redis";

const hub = createHub({ backplane: inProcessBackplane("types") });

const handler = (request: Request): Response => {
  const ws: Server = request.url.endsWith("/2") ? makeServer2(request) : makeServer(request, { maxLength: 1 << 20 });
  ws.on("open", () => hub.subscribe(ws, "room"));
  ws.on("message", (message: string | Uint8Array) => void hub.publish("room", message, { except: ws }));
  ws.on("close", (code: number, reason: string) => console.log(code, reason));
  return ws.startConnection();
};

const options: ServeOptions = { port: 0, hostname: "127.0.0.1", perMessageDeflate: true };
const handle: ServeHandle = serve(handler, options);
const { port } = await handle.ready;

const clientOptions: ClientOptions = { acceptProtocols: ["chat"], openTimeout: 5000 };
const client: Client = Math.random() < 2
  ? makeClient(`ws://127.0.0.1:${port}/`, clientOptions)
  : makeClient2("ws://x/");
client.on("message", (message) => console.log(typeof message === "string" ? message : message.byteLength));
client.startConnection();
client.send("hi");
const state: ReadyState = client.readyState;
const rtt: number = await client.ping();
for await (const message of client) console.log(message, state, rtt);
client.closeConnection(1000, "done");

const reconnecting: Client = makeClient("ws://x/", {
  reconnect: { retries: 5, minDelay: 100 },
  followRedirects: 3,
  proxy: false,
});
reconnecting.on("reconnecting", (attempt: number, delay: number, cause: Error) => console.log(attempt, delay, cause));
reconnecting.send(new Uint8Array(1), { compress: false });
const browser = new WebSocket("ws://x/", { protocols: ["chat"], reconnect: true });
browser.binaryType = "arraybuffer";
browser.onmessage = (event: MessageEvent) => console.log(event.data, browser.readyState === WebSocket.OPEN);
browser.onclose = (event: CloseEvent) => console.log(event.code, event.reason, event.wasClean);
browser.close(1000, "done");

const driver = new WebSocketDriver("client");
const pair = new TransformStream<Uint8Array, Uint8Array>();
driver.attach({ readable: pair.readable, writable: pair.writable });

const backplane = redisBackplane({ url: "redis://127.0.0.1:6379" });
await backplane.ready;
await handle.close();
