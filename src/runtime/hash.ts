/**
 * The runtime's SHA-1 for the handshake's accept key, handed down to the
 * protocol layer (which names no runtime): `Bun.SHA1.hash` on Bun,
 * `node:crypto`'s one-shot `hash()` on Node; both beat the JavaScript digest
 * (figures in bench/RESULTS.md, "Third round, Node"; on Deno `node:crypto`
 * is slower, and not used).
 *
 * Nothing happens on import: `runtimeAdapter()` (`mod.ts`) calls
 * {@linkcode installAcceptHash} once, when it loads the runtime's adapter.
 *
 * @module
 */

import * as crypto from "node:crypto";
import { useAcceptHash } from "../protocol/handshake_keys.ts";
import type { AcceptHash } from "../protocol/handshake_keys.ts";

/**
 * Bun's own one-shot SHA-1 where there is one (less time per key
 * than Bun's `crypto.hash`: bench/RESULTS.md, "Fifth round, Bun"), else
 * `crypto.hash` (Node 21.7+), checked against RFC 6455's example; `null`
 * where neither is there or right.
 */
function oneShotHash(): AcceptHash | null {
  const sha1 = (globalThis as { Bun?: { SHA1?: { hash?: (data: string, encoding: "base64") => string } } }).Bun?.SHA1;
  const hash = (crypto as { hash?: (algorithm: string, data: string, encoding: string) => string }).hash;
  let accept: AcceptHash;
  if (typeof sha1?.hash === "function") accept = (text) => sha1.hash!(text, "base64");
  else if (typeof hash === "function") accept = (text) => hash("sha1", text, "base64");
  else return null;
  try {
    return accept("dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11") === "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
      ? accept
      : null;
  } catch {
    return null;
  }
}

/** Hands this runtime's accept-key hash to the protocol layer (`useAcceptHash`). */
export function installAcceptHash(): void {
  useAcceptHash(oneShotHash());
}
