/**
 * Ports in tests (not a test file).
 *
 * @module
 */

import net from "node:net";

/**
 * A TCP port on 127.0.0.1 that nothing listens on when this resolves: a
 * listener's on port 0, after it was closed. For a peer started later (a
 * Redis server) or for a connection that must be refused.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
