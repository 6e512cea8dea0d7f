/**
 * The Deno adapter: `Deno.connect` / `Deno.connectTls`, whose connections are
 * Web streams already. Works on Deno Deploy, where `node:net` is not the way
 * out.
 *
 * @module
 */

import type {
  Connection,
  ConnectOptions,
  HttpBackendContext,
  ListenOptions,
  NetAddr,
  RuntimeAdapter,
  ServeBackend,
} from "./types.ts";

async function connect(options: ConnectOptions): Promise<Connection> {
  const { hostname, port, signal } = options;
  signal?.throwIfAborted();
  if (options.tls && options.verifyCertificate === false) {
    // Deno.connectTls cannot skip the certificate check for one connection
    // (only the process-wide --unsafely-ignore-certificate-errors flag can);
    // Deno's node:tls can (rejectUnauthorized: false), so that path takes it.
    const { nodeAdapter } = await import("./node.ts");
    return nodeAdapter.connect(options);
  }
  const attempt: Promise<Deno.Conn> = options.tls
    ? Deno.connectTls({
      hostname,
      port,
      caCerts: options.caCerts ? [...options.caCerts] : undefined,
      alpnProtocols: ["http/1.1"],
    })
    : Deno.connect({ hostname, port, transport: "tcp" });
  if (signal) attempt.then((c) => signal.aborted && c.close(), () => {});
  const conn: Deno.Conn = await abortable(attempt, signal);
  if (options.tls) {
    // Deno.connectTls resolves before the TLS handshake; an untrusted or
    // misnamed certificate would only surface on the first write, as a bare
    // error. Finish the handshake here, so that it fails as a connect error.
    try {
      await abortable((conn as Deno.TlsConn).handshake(), signal);
    } catch (error) {
      try {
        conn.close();
      } catch {
        // Closed already.
      }
      throw error;
    }
  } else {
    (conn as Deno.TcpConn).setNoDelay(true);
  }
  return wrap(conn);
}

function wrap(conn: Deno.Conn): Connection {
  let closed = false;
  return {
    readable: conn.readable,
    writable: conn.writable,
    close: () => {
      if (closed) return;
      closed = true;
      try {
        conn.close();
      } catch {
        // Closed already by the streams.
      }
    },
  };
}

function netAddr(addr: Deno.Addr): NetAddr {
  return addr.transport === "tcp" ? { hostname: addr.hostname, port: addr.port } : { hostname: "", port: 0 };
}

/** The tcp backend on Deno: Deno.listen (or Deno.listenTls). */
function listenTcp(
  options: ListenOptions,
  onConnection: (connection: Connection, remoteAddr: NetAddr) => void,
): Promise<ServeBackend> {
  const listener = options.cert !== undefined
    ? Deno.listenTls({ hostname: options.hostname, port: options.port, cert: options.cert, key: options.key! })
    : Deno.listen({ hostname: options.hostname, port: options.port });
  const accepting = (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return; // the listener was closed
      }
      if (options.cert === undefined) (conn as Deno.TcpConn).setNoDelay(true);
      onConnection(wrap(conn), netAddr(conn.remoteAddr));
    }
  })();
  return Promise.resolve({
    addr: netAddr(listener.addr),
    close: async () => {
      try {
        listener.close();
      } catch {
        // closed already
      }
      await accepting;
    },
  });
}

/** The node backend on Deno: node:http, loaded only when asked for. */
async function listenHttp(options: ListenOptions, context: HttpBackendContext): Promise<ServeBackend> {
  const { nodeAdapter } = await import("./node.ts");
  return nodeAdapter.listenHttp(options, context);
}

/** The deno backend: Deno.serve, whose upgrades are the runtime's own. */
async function listenNative(
  options: ListenOptions,
  handler: (request: Request, info: { remoteAddr: NetAddr }) => Promise<Response>,
): Promise<ServeBackend> {
  const { promise, resolve } = Promise.withResolvers<NetAddr>();
  // Deno's shutdown() waits for every request still in a handler, forever if
  // one never answers; aborting the server's signal ends everything at once,
  // but throws an uncaught BadResource once shutdown() was called. So close()
  // waits for the handlers first (closeAll ends that wait), then shuts down
  // gracefully, or aborts when forced.
  const abort = new AbortController();
  let inFlight = 0;
  let idle: (() => void) | undefined;
  let forced = false;
  let shuttingDown = false;
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    cert: options.cert,
    key: options.key,
    signal: abort.signal,
    onListen: (addr) => resolve(netAddr(addr)),
  } as Deno.ServeTcpOptions, async (request, info) => {
    inFlight++;
    try {
      return await handler(request, { remoteAddr: netAddr(info.remoteAddr) });
    } finally {
      if (--inFlight === 0) idle?.();
    }
  });
  const addr = await promise;
  return {
    addr,
    close: async () => {
      if (inFlight > 0 && !forced) await new Promise<void>((resolve) => idle = resolve);
      if (forced) {
        abort.abort();
        return await server.finished;
      }
      shuttingDown = true;
      await server.shutdown();
    },
    closeAll: () => {
      forced = true;
      if (!shuttingDown) abort.abort();
      idle?.();
    },
  };
}

/** `promise`, or a rejection with the signal's reason as soon as it aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  signal.throwIfAborted();
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  return Promise.race([promise, aborted]).finally(() => signal.removeEventListener("abort", onAbort));
}

/** The Deno adapter. */
export const denoAdapter: RuntimeAdapter = { name: "deno", connect, listenTcp, listenHttp, listenNative };
