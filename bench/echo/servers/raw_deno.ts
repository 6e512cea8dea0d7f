// Raw TCP echo on Deno (Deno.listen, conn.read into one reused 64 KiB buffer,
// conn.write of each piece before the next read): see _raw.mjs.
import { ready } from "./_control.mjs";
import { makeEcho } from "./_raw.mjs";

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
ready((listener.addr as Deno.NetAddr).port);
for await (const conn of listener) {
  conn.setNoDelay(true);
  (async () => {
    const reframer = makeEcho(Deno.env.toObject());
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) break;
        for (const piece of reframer.push(buffer.subarray(0, n)) as Uint8Array[]) {
          let written = 0;
          while (written < piece.length) written += await conn.write(piece.subarray(written));
        }
      }
    } catch { /* reset */ }
    try {
      conn.close();
    } catch { /* closed */ }
  })();
}
