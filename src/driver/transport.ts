/**
 * The seam between a connection and the bytes it travels on. A transport
 * delivers input chunks to a sink and takes output chunks; the universal one
 * runs over a `ReadableStream`/`WritableStream` pair (Deno's `conn.readable`
 * and `conn.writable`, Node's `Duplex.toWeb(socket)`, a user's own). The
 * runtime adapters plug faster native transports behind the same interface
 * (Node socket events, Deno's `conn.read`/`conn.write`, Bun's socket
 * handlers); `WSD_BINDING=streams` makes them use the universal one instead.
 *
 * ```text
 *   socket ──chunks──▶ sink.data(chunk) … sink.end(error?)
 *   socket ◀──bytes─── write(bytes) … end()        abort() tears both down
 * ```
 *
 * The head readers of the server's and the client's handshakes
 * (src/server/http_connection.ts, src/client/client_handshake.ts) are a
 * {@linkcode HeldInput}: the sink of the transport while the head comes, then
 * the {@linkcode InputSource} the driver takes the rest of the input over
 * from, with no object between the transport and the driver.
 *
 * @module
 */

/**
 * What {@linkcode Transport.write} may return when the chunk went to the
 * operating system at once: an already resolved promise that the driver
 * recognises, so that a write finished on the spot costs no promise reaction.
 * Any other promise works as well, only slower.
 *
 * @example
 * ```ts ignore
 * write(chunk) {
 *   return socket.write(chunk) === chunk.length ? WRITTEN : waitForDrain(chunk);
 * }
 * ```
 */
export const WRITTEN: Promise<void> = Promise.resolve();

/** Where a transport delivers its input. */
export interface TransportSink {
  /**
   * A chunk of input. Returns `true` when the sink kept no reference to it,
   * so that the transport may read into its memory again, or free it
   * (detach its `ArrayBuffer`); otherwise (`false` or nothing) the transport
   * must not reuse or free its memory.
   */
  data(chunk: Uint8Array): boolean | void;
  /** The input ended: cleanly (no argument) or with an error. Called once. */
  end(error?: unknown): void;
}

/**
 * A connection's byte transport.
 *
 * @example A transport that writes nowhere
 * ```ts
 * import type { Transport, TransportSink } from "@x/wsd";
 *
 * const nothing: Transport = {
 *   start(sink: TransportSink) {
 *     sink.end();
 *   },
 *   write: () => Promise.resolve(),
 *   end: () => Promise.resolve(),
 *   abort() {},
 * };
 * ```
 */
export interface Transport {
  /** Starts delivering input to `sink`. Called once. */
  start(sink: TransportSink): void;
  /**
   * Writes a chunk after the ones written before it; resolves once the chunk
   * was handed to the operating system (that is the backpressure), rejects if
   * the transport broke. The chunk is not changed afterwards by the caller.
   */
  write(chunk: Uint8Array): Promise<void>;
  /**
   * `true` if a chunk is no longer referenced once its {@linkcode Transport.write}
   * resolved (its bytes were copied to the operating system), so that the caller
   * may write into that memory again: large frames are then encoded into
   * buffers that earlier frames used, which saves their first-touch cost.
   * Leave it unset when anything may keep the chunk after the write (a
   * `WritableStream`'s sink may): the default, `false`, never reuses a chunk.
   *
   * @default {false}
   */
  readonly releasesChunks?: boolean;
  /** Ends the output after every chunk written so far (TCP half-close). */
  end(): Promise<void>;
  /** Tears both directions down at once; pending writes may be lost. */
  abort(reason?: unknown): void;
  /**
   * Stops delivering input until {@linkcode Transport.resume} (so that TCP
   * backpressure reaches the peer). Optional: a transport without it cannot
   * slow its peer down.
   */
  pause?(): void;
  /** Delivers input again after {@linkcode Transport.pause}. */
  resume?(): void;
}

/**
 * Where a started transport's input comes from until a connection takes it
 * over (a handshake's head reader, with what it read past the head): see
 * `attachStarted` in driver.ts. For this library's backends (not exported
 * from the package).
 */
export interface InputSource {
  /**
   * Delivers what was held to `sink`, then the transport's input from now on
   * (the transport straight to `sink` where it can redirect its input).
   */
  resumeWith(sink: TransportSink): void;
}

/** A readable and a writable byte stream that carry one connection. */
export interface StreamPair {
  /** The bytes from the peer. */
  readable: ReadableStream<Uint8Array>;
  /** The bytes to the peer. */
  writable: WritableStream<Uint8Array>;
  /**
   * Releases the connection under the streams (a socket), once both are done
   * or to tear them down. Optional.
   */
  close?(): void;
}

/**
 * Makes a {@linkcode Transport} of a stream pair. One read loop owns the reader
 * (no read is ever raced against a timer); writes await `writer.write()`, which
 * blocks on every runtime where `writer.ready` does not. `head` holds bytes that
 * were read before (after an HTTP head, say): they are delivered first.
 *
 * @example
 * ```ts
 * import { streamTransport } from "@x/wsd";
 *
 * const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
 * const transport = streamTransport({ readable, writable });
 * ```
 */
export function streamTransport(streams: StreamPair, head?: Uint8Array): Transport {
  const reader = streams.readable.getReader();
  const writer = streams.writable.getWriter();
  let reading = true;
  let paused: PromiseWithResolvers<void> | null = null;
  return {
    start(sink: TransportSink): void {
      (async () => {
        try {
          if (head !== undefined && head.length !== 0) sink.data(head);
          for (;;) {
            // While paused, nothing is read: the stream's queue fills, and the
            // socket under it stops reading from the kernel.
            if (paused !== null) await paused.promise;
            if (!reading) return;
            const { done, value } = await reader.read();
            if (done) break;
            if (value.length !== 0) sink.data(value);
            if (!reading) return;
          }
        } catch (error) {
          reading = false;
          sink.end(error);
          return;
        }
        reading = false;
        sink.end();
      })();
    },
    write(chunk: Uint8Array): Promise<void> {
      return writer.write(chunk);
    },
    end(): Promise<void> {
      return writer.close();
    },
    pause(): void {
      paused ??= Promise.withResolvers<void>();
    },
    resume(): void {
      const p = paused;
      paused = null;
      p?.resolve();
    },
    abort(reason?: unknown): void {
      this.resume!();
      if (reading) {
        reading = false;
        reader.cancel(reason).catch(() => {});
      }
      writer.abort(reason).catch(() => {});
      streams.close?.();
    },
  };
}

/**
 * The key of an optional method of a started transport: deliver the input to
 * `sink` from now on (instead of the sink given to `start`). A head reader
 * uses it to step aside once its next reader starts (see
 * {@linkcode HeldInput.resumeWith}), so that an idle connection does not keep
 * it. For this library's own transports (not exported from the package).
 */
export const redirectInput: unique symbol = Symbol("wsd.redirectInput");

/** A transport that can {@linkcode redirectInput}. */
interface Redirectable {
  [redirectInput]?(sink: TransportSink): void;
}

/** Shared by every head reader holding nothing (frozen: a push onto it would throw, not mix connections). */
const NOTHING_HELD: Uint8Array[] = Object.freeze([]) as unknown as Uint8Array[];

/**
 * The input of a started transport after a head (an HTTP request's or
 * response's), until the next reader (the driver, a request body) takes it
 * over with {@linkcode HeldInput.resumeWith}: the head readers of the server
 * and of the client extend it, and are the transport's sink themselves (no
 * object between the transport and the driver). Input after the head is held,
 * and the transport paused once a chunk is held (the next reader may come
 * late: the peer is slowed down by TCP instead), then handed over: the rest
 * of the head's chunk first of all, what was held, a held end, then the
 * transport's input straight to the new reader where the transport can
 * {@linkcode redirectInput}. For this library's backends (not exported from
 * the package).
 *
 * @example A reader of a head that ends at the first "|"
 * ```ts ignore
 * class Reader extends HeldInput implements TransportSink {
 *   #done = false;
 *   constructor(transport: Transport) {
 *     super(transport);
 *     transport.start(this); // (last: a transport may deliver input inside start())
 *   }
 *   data(chunk: Uint8Array): boolean | void {
 *     if (this.#done) return this.holdData(chunk);
 *     const at = chunk.indexOf(0x7c);
 *     if (at < 0) return;
 *     this.#done = true;
 *     this.keepRest(chunk.subarray(at + 1));
 *   }
 *   end(error?: unknown): void {
 *     if (this.#done) this.holdEnd(error);
 *   }
 * }
 * ```
 */
export class HeldInput implements InputSource {
  /** The transport the head came on. */
  readonly transport: Transport;
  /** The next reader, once it started (where the transport cannot deliver to it directly). */
  #reader: TransportSink | null = null;
  /** Input after the head that no reader took yet (made on first use: usually nothing waits); `null` once handed over. */
  #held: Uint8Array[] | null = NOTHING_HELD;
  #ended = false;
  #error: unknown = undefined;
  /** Whether this reader paused the transport (input came before the next reader). */
  #paused = false;

  /** @param transport The transport (started by the subclass, which is its sink). */
  constructor(transport: Transport) {
    this.transport = transport;
  }

  /** Input after the head: to the next reader, or held (and the transport paused) until it starts. */
  holdData(chunk: Uint8Array): boolean | void {
    const reader = this.#reader;
    if (reader !== null) return reader.data(chunk);
    let held = this.#held;
    if (held === null) return; // (After a held end was handed over: nothing reads any more.)
    if (held === NOTHING_HELD) held = this.#held = [];
    held.push(chunk);
    // Paused only now, not at the end of the head: a pause and a resume per
    // connection cost Bun two calls into its socket layer, and usually no
    // input comes in between.
    if (!this.#paused) {
      this.#paused = true;
      this.transport.pause?.();
    }
    return false;
  }

  /** What followed the head in its last chunk: handed over first of all. */
  keepRest(rest: Uint8Array): void {
    const held = this.#held;
    if (rest.length === 0 || held === null) return;
    if (held === NOTHING_HELD) this.#held = [rest];
    else held.unshift(rest);
  }

  /** The end of the input after the head: to the next reader, or held for it. */
  holdEnd(error?: unknown): void {
    if (this.#reader !== null) return this.#reader.end(error);
    this.#ended = true;
    this.#error = error;
  }

  /**
   * Starts the next reader: what was held first, then live input (see
   * {@linkcode InputSource}).
   *
   * @throws {TypeError} if called twice.
   */
  resumeWith(sink: TransportSink): void {
    const held = this.#held;
    if (held === null) throw new TypeError("Cannot hand the input over: it was handed over already");
    this.#held = null;
    const transport = this.transport as Transport & Redirectable;
    // Resumed first: a pause the sink asks for while it takes what was held
    // stays. (No input can come in between: this runs to its end.)
    if (this.#paused) {
      this.#paused = false;
      transport.resume?.();
    }
    for (let i = 0; i < held.length; i++) sink.data(held[i]);
    if (this.#ended) return sink.end(this.#error);
    // Straight from the transport where it can redirect its input (this
    // reader is then let go of); else through this one.
    if (transport[redirectInput] !== undefined) transport[redirectInput](sink);
    else this.#reader = sink;
  }
}
