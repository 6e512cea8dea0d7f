/**
 * The seed's client: connects, sends "Hi", prints the echo, then closes.
 *
 *     deno run -A examples/client.ts [url]     (also: node / bun examples/client.ts [url])
 *
 * The URL defaults to ws://localhost:5000/echo, where examples/echo_server.ts
 * listens (`deno run -A examples/echo_server.ts 5000`). Prints:
 *
 *     Connected.
 *     Received: Hi
 *     Closed: 1000
 */
import { makeClient } from "../src/driver/client.ts";

const url = globalThis.process?.argv?.[2] ?? "ws://localhost:5000/echo";

const client = makeClient(url);
client.on("open", () => console.log("Connected."));
client.on("message", (message) => {
  console.log("Received:", message);
  client.closeConnection();
});
client.on("error", (error) => console.error("Error:", error.message));
client.on("close", (code, reason) => {
  console.log(`Closed: ${code}${reason ? ` ${reason}` : ""}`);
  if (code !== 1000 && globalThis.process) globalThis.process.exitCode = 1;
});
client.startConnection();
client.send("Hi"); // queued until open
