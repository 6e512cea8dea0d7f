/**
 * UTF-8 for text messages: the streaming validator (used while a text frame
 * is still arriving) and the one-shot strict decode (a whole frame), against
 * the runtime's fatal TextDecoder. `deno bench -A bench/`
 *
 * @module
 */
import { decodeUtf8, Utf8Validator } from "../../src/protocol/utf8.ts";

const encoder = new TextEncoder();
const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const cases = {
  "32 B ASCII": encoder.encode("0123456789abcdef0123456789abcdef"),
  "64 KiB ASCII": encoder.encode("x".repeat(65536)),
  "64 KiB mixed": encoder.encode("héllo wörld — 日本語 🎉 ".repeat(2048)),
};

for (const [what, bytes] of Object.entries(cases)) {
  const validator = new Utf8Validator();
  Deno.bench({
    name: `decodeUtf8, ${what}`,
    group: what,
    baseline: true,
    fn: () => void decodeUtf8(bytes),
  });
  Deno.bench({ name: `TextDecoder fatal, ${what}`, group: what, fn: () => void fatal.decode(bytes) });
  Deno.bench({
    name: `Utf8Validator.push, ${what}`,
    group: what,
    fn() {
      validator.reset();
      if (!validator.push(bytes) || !validator.end()) throw new Error("invalid");
    },
  });
}
