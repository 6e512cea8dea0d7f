/**
 * One connection's permessage-deflate state (RFC 7692 §6): the compressor of
 * the messages it sends and the decompressor of those it receives, each made
 * on first use, with the window and context takeover that were agreed.
 * Synchronous: compressing and decompressing happen inside the protocol's own
 * calls, so messages keep their order without any queue, and only one runs
 * at a time in a process. A large received message is inflated over several
 * calls (see `Protocol.workBudget`), the protocol parsing nothing behind it
 * meanwhile.
 *
 * The zlib underneath is pako unless the runtime layer handed down a faster
 * one ({@linkcode useZlib}: the runtime's own `node:zlib`, driven
 * synchronously); each connection keeps the one it started with.
 *
 * @module
 */

import { Deflater } from "../codec/deflate.ts";
import { pakoZlib } from "../codec/engine.ts";
import type { ZlibProvider } from "../codec/engine.ts";
import type { DeflateConfig, DeflateParams } from "./extensions.ts";
import { InflateDataError, InflateLimitError, Inflater } from "../codec/inflate.ts";
import type { ProtocolErrorType } from "./errors.ts";
import type { Role } from "./constants.ts";

let zlib: ZlibProvider = pakoZlib;

/**
 * Sets the zlib that connections made from now on compress and inflate with,
 * or `null` for pako (zlib's port to JavaScript). The runtime layer chooses
 * it (the protocol layer names no runtime).
 *
 * @example
 * ```ts ignore
 * import { pakoZlib } from "../codec/engine.ts";
 *
 * useZlib(pakoZlib); // what `null` means too
 * ```
 */
export function useZlib(provider: ZlibProvider | null): void {
  zlib = provider ?? pakoZlib;
}

/** The zlib that new connections use (see {@linkcode useZlib}). */
export function currentZlib(): ZlibProvider {
  return zlib;
}

/** The compressor and decompressor of one connection. */
export class MessageCompression {
  /** Messages shorter than this are sent uncompressed. */
  readonly threshold: number;
  readonly #level: number;
  readonly #sendBits: number;
  readonly #sendTakeover: boolean;
  readonly #receiveBits: number;
  readonly #receiveTakeover: boolean;
  readonly #zlib: ZlibProvider;
  #deflater: Deflater | null = null;
  #inflater: Inflater | null = null;

  /**
   * @param role Which end this is: a server compresses with the server's
   * parameters and decompresses with the client's.
   * @param zlib The zlib to use: by default the one {@linkcode useZlib} set.
   */
  constructor(role: Role, params: DeflateParams, config: DeflateConfig, zlib: ZlibProvider = currentZlib()) {
    this.#zlib = zlib;
    this.threshold = config.threshold;
    this.#level = config.level;
    const server = role === "server";
    this.#sendBits = server ? params.serverMaxWindowBits : params.clientMaxWindowBits;
    this.#sendTakeover = !(server ? params.serverNoContextTakeover : params.clientNoContextTakeover);
    this.#receiveBits = server ? params.clientMaxWindowBits : params.serverMaxWindowBits;
    this.#receiveTakeover = !(server ? params.clientNoContextTakeover : params.serverNoContextTakeover);
  }

  /**
   * Compresses one message (RFC 7692 §7.2.1: the trailing 00 00 ff ff
   * removed). The result is valid until the next compression in this process:
   * copy it at once (the protocol writes it into a frame).
   */
  compress(data: Uint8Array): Uint8Array {
    this.#deflater ??= new Deflater({
      windowBits: this.#sendBits,
      contextTakeover: this.#sendTakeover,
      level: this.#level,
      zlib: this.#zlib,
    });
    return this.#deflater.compress(data);
  }

  /**
   * The decompressor of received messages, made on first use: the protocol
   * drives it a slice at a time ({@linkcode Inflater.begin},
   * {@linkcode Inflater.step}).
   */
  inflater(): Inflater {
    return this.#inflater ??= new Inflater({
      windowBits: this.#receiveBits,
      contextTakeover: this.#receiveTakeover,
      zlib: this.#zlib,
    });
  }

  /**
   * Decompresses one message's payload, producing at most `maxLength` bytes.
   *
   * @throws {InflateDataError} for invalid compressed data.
   * @throws {InflateLimitError} when the message would be longer than `maxLength`.
   */
  decompress(payload: Uint8Array, maxLength: number): Uint8Array {
    return this.inflater().inflate(payload, maxLength);
  }

  /** Frees both directions' zlib state (the connection is closed); a later use makes them afresh. */
  close(): void {
    this.#deflater?.close();
    this.#inflater?.close();
    this.#deflater = this.#inflater = null;
  }
}

/**
 * What a failure to inflate a received message violated: its inflated size
 * went past `maxLength` (1009), or its bytes are not DEFLATE (1007); `null`
 * for any other error (a bug: the caller rethrows it).
 *
 * @param error What the inflater threw.
 * @param maxLength The connection's `maxLength`.
 */
export function inflateViolation(
  error: unknown,
  maxLength: number,
): { type: ProtocolErrorType; message: string } | null {
  if (error instanceof InflateLimitError) {
    return {
      type: "WSD_ERR_MESSAGE_TOO_BIG",
      message: `Message too big: it inflates to more than the limit of ${maxLength} bytes`,
    };
  }
  if (error instanceof InflateDataError) {
    return { type: "WSD_ERR_INVALID_COMPRESSED_DATA", message: `Invalid compressed message: ${error.message}` };
  }
  return null;
}
