import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { sha1, sha1Base64 } from "../../src/protocol/sha1.ts";
import { computeAcceptKey } from "../../src/protocol/handshake.ts";
import { useAcceptHash } from "../../src/protocol/handshake_keys.ts";
import { installAcceptHash } from "../../src/runtime/hash.ts";
import { latin1 } from "../_shared/bytes.ts";
import { base64 as ourBase64 } from "../../src/protocol/syntax.ts";

const encoder = new TextEncoder();

function hex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

async function subtleSha1(data: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", data.slice());
  return hex(new Uint8Array(digest));
}

describe("FIPS 180-4 §6.1: SHA-1 test vectors", () => {
  it('hashes "abc" (one block)', () => {
    assert.equal(
      hex(sha1(encoder.encode("abc"))),
      "a9993e364706816aba3e25717850c26c9cd0d89d",
    );
  });

  it("hashes the empty message", () => {
    assert.equal(
      hex(sha1(new Uint8Array(0))),
      "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    );
  });

  it("hashes the 448-bit message (two blocks of padding)", () => {
    const message = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert.equal(message.length, 56);
    assert.equal(
      hex(sha1(encoder.encode(message))),
      "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
    );
  });

  it("hashes the 896-bit message", () => {
    const message =
      "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    assert.equal(
      hex(sha1(encoder.encode(message))),
      "a49b2446a02c645bf419f995b67091253a04a259",
    );
  });

  it('hashes one million "a"', () => {
    const message = new Uint8Array(1_000_000).fill(0x61);
    assert.equal(
      hex(sha1(message)),
      "34aa973cd4c4daa4f61eeb2bdbad27316534016f",
    );
  });
});

describe("FIPS 180-4 §5.1.1: padding at every length", () => {
  it("matches crypto.subtle for lengths 0 to 200", async () => {
    const data = new Uint8Array(200);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 0xff;
    for (let length = 0; length <= 200; length++) {
      const input = data.subarray(0, length);
      assert.equal(
        hex(sha1(input)),
        await subtleSha1(input),
        `length ${length}`,
      );
    }
  });

  it("handles the 55/56/63/64/65-byte boundaries", async () => {
    for (const length of [55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129]) {
      const input = new Uint8Array(length).fill(0xa5);
      assert.equal(
        hex(sha1(input)),
        await subtleSha1(input),
        `length ${length}`,
      );
    }
  });

  it("reads a subarray view without looking outside it", async () => {
    const backing = new Uint8Array(300).fill(0xff);
    const view = backing.subarray(17, 17 + 100);
    view.fill(0x42);
    assert.equal(hex(sha1(view)), await subtleSha1(view));
  });

  it("does not modify its input and returns 20 new bytes", () => {
    const input = encoder.encode("The quick brown fox jumps over the lazy dog");
    const copy = input.slice();
    const digest = sha1(input);
    assert.deepEqual(input, copy);
    assert.equal(digest.length, 20);
    assert.equal(hex(digest), "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12");
    assert.notEqual(sha1(input), digest);
  });
});

describe("sha1Base64: the handshake's allocation-free digest", () => {
  const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

  it("matches crypto.subtle for every split of every length from 0 to 119", async () => {
    for (let length = 0; length <= 119; length++) {
      let text = "";
      for (let i = 0; i < length; i++) text += String.fromCharCode((i * 37 + length) & 0xff);
      const expected = base64(new Uint8Array(await crypto.subtle.digest("SHA-1", latin1(text))));
      for (const split of new Set([0, length >> 1, length])) {
        assert.equal(sha1Base64(text.slice(0, split), text.slice(split)), expected, `length ${length}`);
      }
    }
  });

  it("gives the RFC 6455 §1.3 accept key", () => {
    assert.equal(
      sha1Base64("dGhlIHNhbXBsZSBub25jZQ==", "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
      "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
    );
  });

  it("returns null for input that is too long or not Latin-1, and is right again afterwards", () => {
    assert.equal(sha1Base64("a".repeat(100), "b".repeat(20)), null);
    assert.equal(sha1Base64("abc", "\u0100"), null);
    assert.equal(sha1Base64("\u20ac", ""), null);
    assert.equal(sha1Base64("ab", "c"), "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
  });

  it("computeAcceptKey falls back to the byte digest for keys it cannot take", async () => {
    const key = "\u20ac".repeat(3);
    const expected = base64(
      new Uint8Array(await crypto.subtle.digest("SHA-1", encoder.encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))),
    );
    assert.equal(computeAcceptKey(key), expected);
    const long = "k".repeat(200);
    const expectedLong = base64(
      new Uint8Array(
        await crypto.subtle.digest("SHA-1", encoder.encode(long + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")),
      ),
    );
    assert.equal(computeAcceptKey(long), expectedLong);
  });
});

describe("the runtime's accept-key hash (useAcceptHash)", () => {
  const keys = ["dGhlIHNhbXBsZSBub25jZQ==", "AAAAAAAAAAAAAAAAAAAAAA==", "x3JJHMbDL1EzLkh9GBhXDw==", "short", ""];

  it("gives the same keys as the protocol layer's own SHA-1, and is used for ASCII keys only", () => {
    const own = keys.map((k) => computeAcceptKey(k));
    assert.equal(own[0], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    try {
      installAcceptHash();
      assert.deepEqual(keys.map((k) => computeAcceptKey(k)), own);
      let calls = 0;
      useAcceptHash((text) => (calls++, text));
      assert.equal(computeAcceptKey("abc"), "abc258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
      // A Latin-1 key (no handshake accepts it) is hashed as before: its bytes, not its UTF-8.
      assert.equal(computeAcceptKey("\u00e9"), base64Sha1Latin1("\u00e9"));
      assert.equal(calls, 1);
    } finally {
      useAcceptHash(null);
    }
    assert.deepEqual(keys.map((k) => computeAcceptKey(k)), own);
  });
});

function base64Sha1Latin1(key: string): string {
  return sha1Base64(key, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")!;
}

describe("base64 (the runtime's toBase64 where it has one)", () => {
  it("equals btoa for 0 to 40 bytes, all of them or a prefix", () => {
    for (let length = 0; length <= 40; length++) {
      const bytes = new Uint8Array(length + 3);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 97 + length * 13) & 0xff;
      const expected = btoa(String.fromCharCode(...bytes.subarray(0, length)));
      assert.equal(ourBase64(bytes, length), expected, `a prefix of ${length}`);
      assert.equal(ourBase64(bytes.slice(0, length)), expected, `${length} bytes`);
    }
  });
});
