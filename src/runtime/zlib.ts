/**
 * The runtime's own zlib (`node:zlib`, native code on Node, Deno and Bun)
 * behind the codec's {@linkcode ZlibStream} seam, handed down to the
 * protocol layer: permessage-deflate several times faster than pako, and
 * still synchronous (figures in bench/RESULTS.md, "Compression: where the
 * time goes").
 *
 * node:zlib's streams are asynchronous, but each has a native handle with the
 * synchronous call that `deflateRawSync` uses: `handle.writeSync(flush, in,
 * inOff, inLen, out, outOff, outLen)`, which runs one `deflate()`/`inflate()`
 * on the thread that calls it and leaves the remaining `avail_out` and
 * `avail_in` in the stream's `_writeState`. One stream per connection
 * direction keeps its window between messages (context takeover) and is
 * never ended; the JavaScript stream around the handle is never written to.
 * ws drives the same zlib through the asynchronous path instead.
 *
 * What this zlib cannot tell, unlike pako: whether a message stopped inside
 * a DEFLATE block (zlib keeps that in `data_type`, which node:zlib does not
 * show), so a truncated message inflates to what its bits say, as with ws and
 * Python's websockets. And a final block (BFINAL) is seen one call late, when
 * zlib takes no more input.
 *
 * The handle is internal API of node:zlib: {@linkcode nativeZlib} is `null`
 * unless it is there and round-trips the RFC 7692 §7.2.3.2 messages at load,
 * and then the codec stays on pako.
 *
 * Nothing happens on import but that probe: `runtimeAdapter()` (`mod.ts`)
 * calls {@linkcode installZlib} once, when it loads the runtime's adapter.
 *
 * @module
 */

import zlib from "node:zlib";
import { ZlibDataError } from "../codec/engine.ts";
import type { ZlibProvider, ZlibStatus, ZlibStream } from "../codec/engine.ts";
import { useZlib } from "../protocol/compression.ts";

/** The parts of a node:zlib stream object this file uses (internal API, the same on the three runtimes). */
interface ZlibHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    out: Uint8Array,
    outOff: number,
    outLen: number,
  ): void;
  reset(): void;
  close(): void;
  onerror: (message: string, errno: number) => void;
}
interface ZlibObject {
  _handle: ZlibHandle | null;
  _writeState: Uint32Array;
  close(): void;
}

const { Z_SYNC_FLUSH } = zlib.constants;
const EMPTY = new Uint8Array(0);
/** node:zlib's smallest output chunk: the stream's own output buffer, which is never used here. */
const MIN_CHUNK = 64;

/** A node:zlib handle behind the {@linkcode ZlibStream} windows. */
class NativeStream implements ZlibStream {
  input: Uint8Array = EMPTY;
  nextIn = 0;
  availIn = 0;
  output: Uint8Array = EMPTY;
  nextOut = 0;
  availOut = 0;
  readonly #object: ZlibObject;
  readonly #handle: ZlibHandle;
  readonly #state: Uint32Array;
  readonly #inflate: boolean;
  #error: string | null = null;

  constructor(object: ZlibObject, inflate: boolean) {
    const handle = object._handle;
    if (handle === null || typeof handle.writeSync !== "function" || !(object._writeState instanceof Uint32Array)) {
      throw new Error("Cannot use node:zlib synchronously: its stream has no writeSync handle");
    }
    this.#object = object;
    this.#handle = handle;
    this.#state = object._writeState;
    this.#inflate = inflate;
    // zlib reports invalid data through the handle's onerror, during
    // writeSync; node:zlib's own handler would destroy the stream.
    handle.onerror = (message) => {
      this.#error = message;
    };
  }

  run(): ZlibStatus {
    const inLen = this.availIn, outLen = this.availOut;
    this.#error = null;
    this.#handle.writeSync(Z_SYNC_FLUSH, this.input, this.nextIn, inLen, this.output, this.nextOut, outLen);
    if (this.#error !== null) throw new ZlibDataError(this.#error);
    const availOut = this.#state[0], availIn = this.#state[1];
    this.nextIn += inLen - availIn;
    this.availIn = availIn;
    this.nextOut += outLen - availOut;
    this.availOut = availOut;
    // With input and room, an inflate that took nothing and gave nothing has
    // ended: a final block came before (zlib's Z_STREAM_END, not shown here).
    if (this.#inflate && inLen > 0 && outLen > 0 && availIn === inLen && availOut === outLen) return "end";
    return "ok";
  }

  reset(): void {
    this.#error = null;
    this.#handle.reset();
  }

  betweenBlocks(): boolean {
    return true;
  }

  close(): void {
    this.input = this.output = EMPTY;
    this.#object.close();
  }
}

function stream(object: unknown, inflate: boolean): ZlibStream {
  return new NativeStream(object as ZlibObject, inflate);
}

const provider: ZlibProvider = {
  name: "node:zlib",
  deflate: (windowBits, level, memLevel) =>
    stream(zlib.createDeflateRaw({ windowBits, level, memLevel, chunkSize: MIN_CHUNK }), false),
  inflate: (windowBits) => stream(zlib.createInflateRaw({ windowBits, chunkSize: MIN_CHUNK }), true),
};

/** Whether the provider compresses and inflates RFC 7692 §7.2.3.2's two "Hello"s, window kept. */
function works(candidate: ZlibProvider): boolean {
  try {
    const hello = new Uint8Array([0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    const deflate = candidate.deflate(15, 6, 8), inflate = candidate.inflate(15);
    const out = new Uint8Array(64), back = new Uint8Array(64);
    for (let i = 0; i < 2; i++) {
      deflate.input = hello;
      deflate.nextIn = 0;
      deflate.availIn = hello.length;
      deflate.output = out;
      deflate.nextOut = 0;
      deflate.availOut = out.length;
      deflate.run();
      inflate.input = out.subarray(0, deflate.nextOut);
      inflate.nextIn = 0;
      inflate.availIn = deflate.nextOut;
      inflate.output = back;
      inflate.nextOut = 0;
      inflate.availOut = back.length;
      inflate.run();
      const tail = out.subarray(deflate.nextOut - 4, deflate.nextOut).join();
      if (tail !== "0,0,255,255" || back.subarray(0, inflate.nextOut).join() !== hello.join()) return false;
    }
    deflate.close();
    inflate.close();
    return true;
  } catch {
    return false;
  }
}

/** The runtime's zlib as a {@linkcode ZlibProvider}, or `null` where it cannot be driven synchronously. */
export const nativeZlib: ZlibProvider | null = works(provider) ? provider : null;

/** Hands this runtime's zlib to the protocol layer (`useZlib`), if it works here. */
export function installZlib(): void {
  if (nativeZlib !== null) useZlib(nativeZlib);
}
