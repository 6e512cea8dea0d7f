/**
 * The seed's client: connects, sends "Hi", prints the echo, then closes.
 *
 *     deno run -A examples/client.ts [url] [--deflate]     (also: node / bun examples/client.ts …)
 *
 * The URL defaults to ws://localhost:5000/echo, where examples/echo_server.ts
 * listens (`deno run -A examples/echo_server.ts`).
 *
 * `--deflate` offers permessage-deflate. Prints:
 *
 *     Connected.
 *     Received: Hi
 *     Closed: 1000
 */
import { makeClient } from "../src/client/client.ts";

const args: string[] = globalThis.process?.argv?.slice(2) ?? [];
const url = args.find((arg) => !arg.startsWith("--")) ?? "ws://localhost:5000/echo";
const deflate = args.includes("--deflate");

const client = makeClient(url, { perMessageDeflate: deflate });
client.on("open", () => console.log(client.extensions ? `Connected (${client.extensions}).` : "Connected."));
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
