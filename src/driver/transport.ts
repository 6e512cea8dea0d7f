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
 * A client's handshake reads the head of the connection through a
 * {@linkcode TransportRelay}, then hands the rest of the input over to the
 * driver; the server's head reader (src/server/http_connection.ts) is an
 * {@linkcode InputSource} the driver takes the input over from, with no
 * object between the transport and the driver.
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
 * `sink` from now on (instead of the sink given to `start`). A relay with
 * nothing held uses it to step aside (see {@linkcode TransportRelay.resumeWith}),
 * so that an idle connection does not keep it. For this library's own
 * transports (not exported from the package).
 */
export const redirectInput: unique symbol = Symbol("wsd.redirectInput");

/** A transport that can {@linkcode redirectInput}. */
interface Redirectable {
  [redirectInput]?(sink: TransportSink): void;
}

/** Shared by every relay holding nothing (frozen: a push onto it would throw, not mix connections). */
const NOTHING_HELD: Uint8Array[] = Object.freeze([]) as unknown as Uint8Array[];

/**
 * Lets two readers take one transport's input in turn: a handshake's head
 * parser first, then the connection (or a request body). The first sink gets
 * every chunk until {@linkcode TransportRelay.handOff}; from then on input is
 * held (and the transport paused once a chunk is held) until the transport it
 * returns is started:
 * that one gets the bytes left over from the head, what was held, then
 * everything after. Writes, end and abort go straight through.
 *
 * @example
 * ```ts ignore
 * const relay = new TransportRelay(transport, {
 *   data(chunk) {
 *     const result = parser.push(chunk);
 *     if (result.state === "complete") driver.attach(relay.handOff(result.rest));
 *   },
 *   end() {},
 * });
 * ```
 */
export class TransportRelay implements TransportSink {
  readonly #transport: Transport;
  #sink: TransportSink | null;
  /** Input no reader took yet (made on first use: usually nothing waits). */
  #held: Uint8Array[] = NOTHING_HELD;
  #ended = false;
  #error: unknown = undefined;
  #handedOff = false;
  /** Whether the relay paused the transport (input came between the hand-off and the next reader). */
  #paused = false;

  /**
   * Starts `transport`, delivering its input to `sink`.
   *
   * @param transport A transport that was not started.
   * @param sink The first reader.
   */
  constructor(transport: Transport, sink: TransportSink) {
    this.#transport = transport;
    // Input a transport delivers inside start() is held, and given to the
    // first reader in a microtask: the reader may use the relay (hand off),
    // which does not exist for it before this constructor returns.
    this.#sink = null;
    transport.start(this);
    if (this.#held.length === 0 && !this.#ended) {
      this.#sink = sink;
      return;
    }
    queueMicrotask(() => {
      while (this.#held.length !== 0) {
        sink.data(this.#held.shift()!);
        // What is left goes to the next reader, after the rest of this chunk
        // (handOff puts that first).
        if (this.#handedOff) return;
      }
      this.#sink = sink;
      if (this.#ended) sink.end(this.#error);
    });
  }

  /** Input from the transport: to the current reader (which says whether it kept it), or held. */
  data(chunk: Uint8Array): boolean | void {
    const current = this.#sink;
    if (current !== null) return current.data(chunk);
    if (this.#held === NOTHING_HELD) this.#held = [];
    this.#held.push(chunk);
    // Between the hand-off and the next reader (the handler may take its
    // time), nothing more is read: the peer is slowed down by TCP instead.
    // Paused only now, not at the hand-off: a pause and a resume per
    // connection cost Bun two calls into its socket layer, and usually no
    // input comes in between.
    if (this.#handedOff) this.pauseTransport();
    return false;
  }

  /** Pauses the transport until the next reader starts (once: the relay resumes it then). */
  pauseTransport(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#transport.pause?.();
  }

  /** The end of the input: to the current reader, or held. */
  end(error?: unknown): void {
    const current = this.#sink;
    if (current !== null) return current.end(error);
    this.#ended = true;
    this.#error = error;
  }

  /** The transport under the relay. */
  get transport(): Transport {
    return this.#transport;
  }

  /**
   * Stops delivering to the first reader and returns the transport of the
   * next one, which gets `rest` first.
   *
   * @throws {TypeError} if called twice.
   */
  handOff(rest?: Uint8Array): Transport {
    if (this.#handedOff) throw new TypeError("Cannot hand the transport off: it was handed off already");
    this.#handedOff = true;
    this.#sink = null;
    if (rest !== undefined && rest.length !== 0) {
      if (this.#held === NOTHING_HELD) this.#held = [];
      this.#held.unshift(rest);
    }
    return new HandedOff(this);
  }

  /**
   * Starts the next reader: what was held first, then live input, straight
   * from the transport when it can redirect its input (the relay is then
   * let go of: an idle connection keeps one object fewer).
   */
  resumeWith(sink: TransportSink, paused: boolean): void {
    const held = this.#held;
    this.#held = NOTHING_HELD;
    for (const chunk of held) sink.data(chunk);
    if (this.#ended) return sink.end(this.#error);
    this.#sink = sink;
    const transport = this.#transport as Transport & Redirectable;
    transport[redirectInput]?.(sink);
    if (this.#paused && !paused) transport.resume?.();
    this.#paused = false;
  }
}

/** The transport {@linkcode TransportRelay.handOff} returns. */
class HandedOff implements Transport {
  /** Until start (then let go of: see resumeWith). */
  #relay: TransportRelay | null;
  readonly #transport: Transport;
  #started = false;
  #paused = false;

  constructor(relay: TransportRelay) {
    this.#relay = relay;
    this.#transport = relay.transport;
  }

  start(sink: TransportSink): void {
    if (this.#started) throw new TypeError("Cannot start the transport: it was started already");
    this.#started = true;
    const relay = this.#relay!;
    this.#relay = null;
    relay.resumeWith(sink, this.#paused);
  }

  write(chunk: Uint8Array): Promise<void> {
    return this.#transport.write(chunk);
  }

  get releasesChunks(): boolean {
    return this.#transport.releasesChunks === true;
  }

  end(): Promise<void> {
    return this.#transport.end();
  }

  abort(reason?: unknown): void {
    this.#transport.abort(reason);
  }

  pause(): void {
    this.#paused = true;
    // Before start, the relay resumes the transport then, unless paused.
    if (this.#started) this.#transport.pause?.();
    else this.#relay!.pauseTransport();
  }

  resume(): void {
    this.#paused = false;
    if (this.#started) this.#transport.resume?.();
  }
}
