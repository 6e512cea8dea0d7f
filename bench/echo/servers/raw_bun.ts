// Raw TCP echo on Bun (Bun.listen socket handlers; a write Bun takes only in
// part waits for `drain`): see _raw.mjs.
import process from "node:process";
import { ready } from "./_control.mjs";
import { makeEcho } from "./_raw.mjs";

interface Socket {
  data: { reframer: { push(chunk: Uint8Array): Uint8Array[] }; pending: Uint8Array[] };
  write(bytes: Uint8Array): number;
}

function send(socket: Socket, pieces: Uint8Array[]): void {
  const pending = socket.data.pending;
  for (const piece of pieces) {
    if (pending.length !== 0) {
      pending.push(piece);
      continue;
    }
    const n = socket.write(piece);
    if (n < piece.length) pending.push(piece.subarray(Math.max(n, 0)));
  }
}

declare const Bun: { listen(options: unknown): { port: number } };
const listener = Bun.listen({
  hostname: "127.0.0.1",
  port: 0,
  socket: {
    open(socket: Socket) {
      socket.data = { reframer: makeEcho(process.env), pending: [] };
    },
    data(socket: Socket, chunk: Uint8Array) {
      send(socket, socket.data.reframer.push(chunk));
    },
    drain(socket: Socket) {
      const pending = socket.data.pending;
      while (pending.length !== 0) {
        const piece = pending[0];
        const n = socket.write(piece);
        if (n < piece.length) {
          pending[0] = piece.subarray(Math.max(n, 0));
          return;
        }
        pending.shift();
      }
    },
    error() {},
  },
});
ready(listener.port);
