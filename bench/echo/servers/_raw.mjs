// The raw TCP echo of bench/echo ("tcp-node", "tcp-deno", "tcp-bun"): the limit
// of each runtime's sockets for the bulk rows. No WebSocket library: the HTTP
// upgrade is answered with a fixed 101 (the generator sends one fixed key),
// then each masked client frame goes back re-framed as an unmasked server
// frame of the same length (the generator counts replies of that length) with
// the cheapest code there is: the 4 mask-key bytes are dropped by moving the
// header over them inside the read buffer, and the payload is sent as it came,
// still masked (the generator does not look at it): never copied, never
// unmasked, never buffered until its frame is complete. What a WebSocket
// server must do beyond this (unmask, hold a whole message, hand it over) is
// what the ratios against these rows measure. Plain JavaScript, runs everywhere.
//
// With RAW_MESSAGE=1 (ids "tcp-node-msg", …) the echo does the one thing every
// message API must add: each frame's payload is copied into a buffer of its
// own, allocated per message, and written back from there once complete (still
// not unmasked, not parsed beyond the length, no events). Measured against the
// plain rows, it is the price of handing each message over in fresh memory.

const ACCEPT = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
export const ACCEPT_BYTES = new TextEncoder().encode(ACCEPT);

/** Payload runs at least this long go out as a view of their own; shorter ones are moved together. */
const VIEW = 4096;

/**
 * The upgrade request: scans `chunk` for its blank line, counting in
 * `state.headTail` across reads. Returns where the frames start (and clears
 * `state.head`), or -1 while the head goes on.
 */
function skipHead(state, chunk) {
  for (let i = 0; i < chunk.length; i++) {
    const c = chunk[i];
    const want = state.headTail & 1 ? 10 : 13;
    state.headTail = c === want ? state.headTail + 1 : c === 13 ? 1 : 0;
    if (state.headTail === 4) {
      state.head = false;
      return i + 1;
    }
  }
  return -1;
}

/** The per-connection re-framer: `push(chunk)` returns the pieces to write, in order (views of `chunk`). */
export class Reframer {
  head = true;
  headTail = 0; // how many of "\r\n\r\n" were seen
  remaining = 0; // payload bytes of the current frame still to pass on
  gather = new Uint8Array(14); // a header split across reads
  gathered = 0;

  push(chunk) {
    const out = [];
    let i = 0;
    const n = chunk.length;
    if (this.head) {
      i = skipHead(this, chunk);
      if (i < 0) return out;
      out.push(ACCEPT_BYTES);
    }
    // Frames are compacted in place: w is where the next output byte goes.
    let start = i, w = i;
    while (i < n) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, n - i);
        this.remaining -= take;
        if (take >= VIEW) {
          if (w > start) out.push(chunk.subarray(start, w));
          out.push(chunk.subarray(i, i + take));
          start = w = i + take;
        } else {
          if (w !== i) chunk.copyWithin(w, i, i + take);
          w += take;
        }
        i += take;
        continue;
      }
      // A header: 2 bytes, the extended length, then the 4-byte mask key.
      if (this.gathered === 0 && n - i >= 2) {
        const len7 = chunk[i + 1] & 0x7f;
        const size = (len7 < 126 ? 2 : len7 === 126 ? 4 : 10) + 4;
        if (n - i >= size) {
          const h = size - 4;
          chunk[i + 1] = len7; // mask bit off
          let length = len7;
          if (len7 === 126) length = (chunk[i + 2] << 8) | chunk[i + 3];
          else if (len7 === 127) {
            length = (chunk[i + 6] * 2 ** 24) + ((chunk[i + 7] << 16) | (chunk[i + 8] << 8) | chunk[i + 9]);
          }
          if (w !== i) chunk.copyWithin(w, i, i + h);
          w += h;
          i += size;
          this.remaining = length;
          continue;
        }
      }
      // A header cut by the read: gather it byte by byte.
      if (w > start) out.push(chunk.subarray(start, w));
      const g = this.gather;
      while (i < n) {
        g[this.gathered++] = chunk[i++];
        if (this.gathered >= 2) {
          const len7 = g[1] & 0x7f;
          const size = (len7 < 126 ? 2 : len7 === 126 ? 4 : 10) + 4;
          if (this.gathered === size) {
            let length = len7;
            if (len7 === 126) length = (g[2] << 8) | g[3];
            else if (len7 === 127) length = (g[6] * 2 ** 24) + ((g[7] << 16) | (g[8] << 8) | g[9]);
            g[1] = len7;
            out.push(g.slice(0, size - 4));
            this.gathered = 0;
            this.remaining = length;
            break;
          }
        }
      }
      start = w = i;
    }
    if (w > start) out.push(chunk.subarray(start, w));
    return out;
  }
}

/**
 * The RAW_MESSAGE=1 variant of {@linkcode Reframer}: `push(chunk)` returns the
 * pieces to write, each complete frame as its header and a fresh buffer
 * holding the payload copied out of the reads.
 */
export class Assembler {
  head = true;
  headTail = 0;
  gather = new Uint8Array(14);
  gathered = 0;
  message = null;
  at = 0;
  headerLength = 0;

  push(chunk) {
    const out = [];
    let i = 0;
    const n = chunk.length;
    if (this.head) {
      i = skipHead(this, chunk);
      if (i < 0) return out;
      out.push(ACCEPT_BYTES);
    }
    while (i < n) {
      if (this.message === null) {
        const g = this.gather;
        g[this.gathered++] = chunk[i++];
        if (this.gathered < 2) continue;
        const len7 = g[1] & 0x7f;
        const size = (len7 < 126 ? 2 : len7 === 126 ? 4 : 10) + 4;
        if (this.gathered < size) continue;
        let length = len7;
        if (len7 === 126) length = (g[2] << 8) | g[3];
        else if (len7 === 127) length = (g[6] * 2 ** 24) + ((g[7] << 16) | (g[8] << 8) | g[9]);
        this.gathered = 0;
        this.headerLength = size - 4;
        this.message = new Uint8Array(length);
        this.at = 0;
      }
      const message = this.message;
      const take = Math.min(message.length - this.at, n - i);
      if (take > 0) message.set(chunk.subarray(i, i + take), this.at);
      this.at += take;
      i += take;
      if (this.at === message.length) {
        const header = this.gather.slice(0, this.headerLength);
        header[1] &= 0x7f;
        out.push(header, message);
        this.message = null;
      }
    }
    return out;
  }
}

/** The echo of this process: RAW_MESSAGE=1 picks {@linkcode Assembler}. */
export function makeEcho(env) {
  return env?.RAW_MESSAGE === "1" ? new Assembler() : new Reframer();
}
