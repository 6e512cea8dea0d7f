/**
 * The seam between a connection and the bytes it travels on. A transport
 * delivers input chunks to a sink and takes output chunks; the universal one
 * runs over a `ReadableStream`/`WritableStream` pair (Deno's `conn.readable`
 * and `conn.writable`, Node's `Duplex.toWeb(socket)`, a user's own). A runtime
 * may plug a faster native transport behind the same interface.
 *
 * @module
 */

/** Where a transport delivers its input. */
export interface TransportSink {
  /** A chunk of input; the transport must not reuse its memory afterwards. */
  data(chunk: Uint8Array): void;
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
