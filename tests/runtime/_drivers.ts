// Shared by the tests that run drivers over the runtime adapters' transports
// (loopback TCP, the binding in use): a listener for the describe block, and
// a function that opens a server/client driver pair over it.
import { after, before } from "node:test";
import { WebSocketDriver } from "../../src/driver/driver.ts";
import type { DriverOptions } from "../../src/driver/driver.ts";
import { runtimeAdapter } from "../../src/runtime/mod.ts";
import type { RuntimeAdapter, ServeBackend } from "../../src/runtime/types.ts";
import type { Transport } from "../../src/driver/transport.ts";
import { withTimeout } from "../driver/_pair.ts";

export const HOST = "127.0.0.1";

/** Options of the two ends of a pair. */
export interface PairOptions {
  server?: DriverOptions;
  client?: DriverOptions;
}

/**
 * Listens on loopback for the enclosing describe block (before/after hooks)
 * and returns a function opening a driver pair over a fresh connection; every
 * driver is terminated after the block.
 */
export function driverPairs(): (
  options?: PairOptions,
) => Promise<{ server: WebSocketDriver; client: WebSocketDriver }> {
  let adapter: RuntimeAdapter;
  let listener: ServeBackend;
  const accepted: Array<(t: Transport) => void> = [];
  const drivers: WebSocketDriver[] = [];
  before(async () => {
    adapter = await runtimeAdapter();
    listener = await adapter.listenTcp({ hostname: HOST, port: 0 }, (transport) => accepted.shift()!(transport));
  });
  after(async () => {
    for (const d of drivers) d.terminate();
    await listener.close();
  });
  return async (options = {}) => {
    const serverSide = new Promise<Transport>((resolve) => accepted.push(resolve));
    const clientTransport = await adapter.connect({ hostname: HOST, port: listener.addr.port, tls: false });
    const serverTransport = await withTimeout(serverSide, "the accepted connection");
    const server = new WebSocketDriver("server", options.server);
    const client = new WebSocketDriver("client", options.client);
    drivers.push(server, client);
    server.attach(serverTransport);
    client.attach(clientTransport);
    await Promise.all([server.opened, client.opened]);
    return { server, client };
  };
}

export { pattern, sameBytes } from "../_shared/bytes.ts";
