// A child process for attach_test.ts: serve() on a port that is taken
// (argv: port, then the backend, or "awaited" for a caller awaiting ready).
import process from "node:process";
import { serve } from "../../server.ts";
import type { BackendName } from "../../server.ts";

const [port, mode] = process.argv.slice(2);
const handler = () => new Response("hello");
if (mode === "awaited") {
  try {
    await serve(handler, { port: Number(port), hostname: "127.0.0.1" }).ready;
  } catch (error) {
    console.log(`handled: ${(error as Error).message}`);
  }
} else {
  serve(handler, { port: Number(port), hostname: "127.0.0.1", backend: mode as BackendName });
}
