import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { decodeUtf8, decodeValidatedUtf8, Utf8Validator } from "../../src/protocol/utf8.ts";
import { concat, hex, naiveMask, Rng, toHex } from "./_helpers.ts";

/** The oracle: the WHATWG decoder, fatal. */
function isValid(bytes: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * The oracle for "fails as soon as": the index of the first byte after which no
 * continuation can make the input valid (the WHATWG decoder in streaming mode
 * throws there), or -1.
 */
function firstBadByte(bytes: Uint8Array): number {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  for (let i = 0; i < bytes.length; i++) {
    try {
      decoder.decode(bytes.subarray(i, i + 1), { stream: true });
    } catch {
      return i;
    }
  }
  return -1;
}

/** Bytes that look like UTF-8 often enough to hit every rule. */
function utf8ish(rng: Rng): Uint8Array {
  const parts: number[] = [];
  const n = rng.int(12);
  for (let i = 0; i < n; i++) {
    switch (rng.int(8)) {
      case 0:
        parts.push(rng.int(0x80));
        break;
      case 1: {
        // A valid character of any length.
        const ranges = [[0x80, 0x7ff], [0x800, 0xd7ff], [0xe000, 0xffff], [
          0x10000,
          0x10ffff,
        ]];
        const [lo, hi] = rng.pick(ranges);
        for (
          const b of new TextEncoder().encode(
            String.fromCodePoint(rng.range(lo, hi)),
          )
        ) parts.push(b);
        break;
      }
      case 2:
        // Bytes at the edges of the rules.
        parts.push(
          rng.pick([
            0x7f,
            0x80,
            0x8f,
            0x90,
            0x9f,
            0xa0,
            0xbf,
            0xc0,
            0xc1,
            0xc2,
            0xdf,
            0xe0,
            0xed,
            0xef,
            0xf0,
            0xf4,
            0xf5,
            0xff,
          ]),
        );
        break;
      case 3:
        parts.push(rng.range(0x80, 0xbf));
        break;
      case 4:
        parts.push(rng.range(0xc0, 0xff));
        break;
      case 5: {
        // A character cut short.
        const bytes = new TextEncoder().encode(
          String.fromCodePoint(rng.range(0x800, 0x10ffff)),
        );
        for (const b of bytes.subarray(0, 1 + rng.int(bytes.length - 1))) {
          parts.push(b);
        }
        break;
      }
      case 6: {
        // A lead byte with the continuation bytes it asks for, in any range.
        const lead = rng.range(0xc0, 0xf7);
        parts.push(lead);
        const need = lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : 1;
        for (let k = 0; k < need; k++) parts.push(rng.range(0x80, 0xbf));
        break;
      }
      default:
        parts.push(rng.int(256));
    }
  }
  return new Uint8Array(parts);
}

/** Feeds `bytes` to a validator in random pieces; the validator's verdict. */
function validateInPieces(
  v: Utf8Validator,
  bytes: Uint8Array,
  rng: Rng,
): boolean {
  let at = 0;
  while (at < bytes.length) {
    const n = 1 + rng.int(5);
    if (!v.push(bytes.subarray(at, at + n))) return false;
    at += n;
  }
  return v.end();
}

describe("RFC 3629 §4 UTF-8 validation (Utf8Validator) against the WHATWG decoder", () => {
  it("gives TextDecoder's verdict on 20 000 random byte strings fed in random pieces", () => {
    let valid = 0;
    const v = new Utf8Validator();
    for (let seed = 1; seed <= 20000; seed++) {
      const rng = new Rng(seed);
      const bytes = utf8ish(rng);
      const expected = isValid(bytes);
      if (expected) valid++;
      v.reset();
      assert.equal(
        validateInPieces(v, bytes, rng),
        expected,
        `seed ${seed}: ${toHex(bytes)}`,
      );
    }
    // The generator must produce both verdicts often.
    assert.ok(valid > 2000 && valid < 18000, `valid ${valid} of 20000`);
  });

  it("fails at the first byte no continuation can save, not later, not earlier", () => {
    let bad = 0;
    for (let seed = 1; seed <= 5000; seed++) {
      const rng = new Rng(seed);
      const bytes = utf8ish(rng);
      const expected = firstBadByte(bytes);
      const v = new Utf8Validator();
      let got = -1;
      for (let i = 0; i < bytes.length; i++) {
        if (!v.push(bytes.subarray(i, i + 1))) {
          got = i;
          break;
        }
      }
      if (expected >= 0) bad++;
      assert.equal(got, expected, `seed ${seed}: ${toHex(bytes)}`);
      // Once failed, it stays failed.
      if (got >= 0) {
        assert.equal(v.push(new Uint8Array([0x61])), false, `seed ${seed}`);
        assert.equal(v.end(), false, `seed ${seed}`);
      }
    }
    assert.ok(bad > 1000, `bad ${bad}`);
  });

  it("agrees on every 1- and 2-byte string and on every 3-byte string around the lead bytes", () => {
    const v = new Utf8Validator();
    const check = (bytes: Uint8Array) => {
      v.reset();
      const got = v.push(bytes) && v.end();
      if (got !== isValid(bytes)) {
        assert.fail(`${toHex(bytes)}: validator says ${got}`);
      }
    };
    for (let a = 0; a < 256; a++) {
      check(new Uint8Array([a]));
      for (let b = 0; b < 256; b++) check(new Uint8Array([a, b]));
    }
    const edges = [0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0];
    for (let a = 0xc0; a < 256; a++) {
      for (let b = 0x70; b <= 0xc0; b++) {
        for (const c of edges) check(new Uint8Array([a, b, c]));
        for (const c of [0x80, 0xbf]) {
          for (const d of edges) check(new Uint8Array([a, b, c, d]));
        }
      }
    }
  });

  it("validates masked bytes with the key and phase as if unmasked", () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const rng = new Rng(seed);
      const plain = utf8ish(rng);
      const key = rng.bytes(4);
      const masked = naiveMask(plain, key);
      const v = new Utf8Validator();
      let ok = true;
      let at = 0;
      while (ok && at < masked.length) {
        const n = 1 + rng.int(6);
        ok = v.push(masked.subarray(at, at + n), key, at);
        at += n;
      }
      assert.equal(
        ok && v.end(),
        isValid(plain),
        `seed ${seed}: ${toHex(plain)} key ${toHex(key)}`,
      );
    }
  });

  it("checks the named edge cases", () => {
    const cases: [string, boolean][] = [
      ["", true],
      ["ce ba e1 bd b9 cf 83 ce bc ce b5", true], // κόσμε
      ["ef bb bf", true],
      ["ed 9f bf", true],
      ["ed a0 80", false],
      ["ee 80 80", true],
      ["f4 8f bf bf", true],
      ["f4 90 80 80", false],
      ["c2 80", true],
      ["c0 80", false],
      ["c1 bf", false],
      ["e0 a0 80", true],
      ["e0 9f bf", false],
      ["f0 90 80 80", true],
      ["f0 8f bf bf", false],
      ["f5 80 80 80", false],
      ["e2 82", false],
      ["e2 82 ac", true],
    ];
    for (const [bytes, expected] of cases) {
      const v = new Utf8Validator();
      assert.equal(v.push(hex(bytes)) && v.end(), expected, bytes);
      assert.equal(isValid(hex(bytes)), expected, `the oracle on ${bytes}`);
    }
  });

  it("a truncated character is fine while the input goes on, and reset() forgets it", () => {
    const v = new Utf8Validator();
    assert.equal(v.push(hex("e2 82")), true);
    assert.equal(v.end(), false);
    assert.equal(v.push(hex("ac")), true);
    assert.equal(v.end(), true);
    v.push(hex("f0 9f"));
    v.reset();
    assert.equal(v.push(hex("41")), true);
    assert.equal(v.end(), true);
    v.push(hex("ff"));
    assert.equal(v.end(), false);
    v.reset();
    assert.equal(
      v.push(hex("41")) && v.end(),
      true,
      "reset() also clears a failure",
    );
  });
});

describe("RFC 6455 §5.6 decoding text", () => {
  it("decodeUtf8 returns the string or null, like the fatal decoder", () => {
    for (let seed = 1; seed <= 3000; seed++) {
      const bytes = utf8ish(new Rng(seed));
      const got = decodeUtf8(bytes);
      if (isValid(bytes)) {
        assert.equal(
          got,
          new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(
            bytes,
          ),
          `seed ${seed}`,
        );
      } else {
        assert.equal(got, null, `seed ${seed}: ${toHex(bytes)}`);
      }
    }
  });

  it("a byte order mark is kept as U+FEFF by both decoders", () => {
    assert.equal(decodeUtf8(hex("ef bb bf 61")), "\uFEFFa");
    assert.equal(decodeValidatedUtf8(hex("ef bb bf 61")), "\uFEFFa");
    assert.equal(decodeUtf8(hex("ef bb bf ef bb bf")), "\uFEFF\uFEFF");
    // And neither keeps state between calls.
    assert.equal(decodeUtf8(hex("e2 82")), null);
    assert.equal(decodeUtf8(hex("ac")), null);
    assert.equal(decodeValidatedUtf8(hex("ef bb bf")), "\uFEFF");
  });

  it("decodeValidatedUtf8 decodes any valid input", () => {
    const text = "ASCII é € 😀 \u{10ffff} \u0000";
    assert.equal(decodeValidatedUtf8(new TextEncoder().encode(text)), text);
    assert.equal(decodeValidatedUtf8(concat(hex("e2 82"), hex("ac"))), "€");
  });
});
