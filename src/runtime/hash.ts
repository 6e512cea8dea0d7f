/**
 * The runtime's SHA-1 for the handshake's accept key, handed down to the
 * protocol layer (which names no runtime): `node:crypto`'s one-shot `hash()`,
 * on Node and Bun, where it beats the JavaScript digest (figures in
 * bench/RESULTS.md, "Third round, Node"; on Deno it is slower, and not used).
 *
 * Nothing happens on import: `runtimeAdapter()` (`mod.ts`) calls
 * {@linkcode installAcceptHash} once, when it loads the runtime's adapter.
 *
 * @module
 */

import * as crypto from "node:crypto";
import { useAcceptHash } from "../protocol/handshake_keys.ts";
import type { AcceptHash } from "../protocol/handshake_keys.ts";

/** `crypto.hash` (Node 21.7+, Bun), checked against RFC 6455's example; `null` where it is missing or wrong. */
function oneShotHash(): AcceptHash | null {
  const hash = (crypto as { hash?: (algorithm: string, data: string, encoding: string) => string }).hash;
  if (typeof hash !== "function") return null;
  const accept: AcceptHash = (text) => hash("sha1", text, "base64");
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
