import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { maskInPlace, randomMaskKey } from "../../src/protocol/mask.ts";
import { hex, naiveMask, Rng, toHex } from "./_helpers.ts";

describe("RFC 6455 §5.3 client-to-server masking", () => {
  it("the §5.7 example: 7f 9f 4d 51 58 with 37 fa 21 3d is Hello", () => {
    const data = hex("7f 9f 4d 51 58");
    maskInPlace(data, hex("37 fa 21 3d"));
    assert.equal(new TextDecoder().decode(data), "Hello");
  });

  it("equals the naive byte loop for lengths 0..300, every byteOffset 0..7, every phase 0..3", () => {
    const rng = new Rng(2024);
    for (let length = 0; length <= 300; length++) {
      for (let offset = 0; offset < 8; offset++) {
        for (let phase = 0; phase < 4; phase++) {
          const key = rng.bytes(4);
          key[rng.int(4)] |= 1; // never all zero here
          const original = rng.bytes(length);
          // Guard bytes on both sides catch writes out of bounds.
          const buffer = new Uint8Array(offset + length + 8).fill(0xa5);
          buffer.set(original, offset);
          const view = buffer.subarray(offset, offset + length);
          maskInPlace(view, key, phase);
          const where = `seed 2024, length ${length}, byteOffset ${offset}, phase ${phase}, key ${toHex(key)}`;
          assert.deepEqual(view, naiveMask(original, key, phase), where);
          for (let i = 0; i < offset; i++) {
            assert.equal(buffer[i], 0xa5, `guard before, ${where}`);
          }
          for (let i = offset + length; i < buffer.length; i++) {
            assert.equal(buffer[i], 0xa5, `guard after, ${where}`);
          }
          // Masking twice restores the data.
          maskInPlace(view, key, phase);
          assert.deepEqual(view, original, `twice, ${where}`);
        }
      }
    }
  });

  it("phases beyond 3 work like phase mod 4, and a payload unmasked in pieces equals one pass", () => {
    const rng = new Rng(99);
    for (let round = 0; round < 200; round++) {
      const key = rng.bytes(4);
      const data = rng.bytes(rng.int(500));
      const whole = data.slice();
      maskInPlace(whole, key);
      const pieces = data.slice();
      let at = 0;
      while (at < pieces.length) {
        const n = 1 + rng.int(70);
        maskInPlace(pieces.subarray(at, at + n), key, at);
        at += n;
      }
      assert.deepEqual(pieces, whole, `seed 99, round ${round}`);
    }
  });

  it("a zero key leaves the data unchanged", () => {
    const rng = new Rng(5);
    for (const length of [0, 1, 31, 32, 33, 1000]) {
      const data = rng.bytes(length);
      const copy = data.slice();
      maskInPlace(data, new Uint8Array(4));
      assert.deepEqual(data, copy);
    }
  });

  it("a key with zero bytes but not all zero still masks", () => {
    const data = new Uint8Array(40).fill(0x0f);
    maskInPlace(data, hex("00 00 00 01"));
    assert.deepEqual(
      data,
      naiveMask(new Uint8Array(40).fill(0x0f), hex("00 00 00 01")),
    );
    assert.equal(data[3], 0x0e);
    assert.equal(data[0], 0x0f);
  });

  it("randomMaskKey returns distinct, independent 4-byte arrays (across pool refills)", () => {
    const keys: Uint8Array[] = [];
    for (let i = 0; i < 2100; i++) keys.push(randomMaskKey());
    for (const key of keys) {
      assert.ok(key instanceof Uint8Array);
      assert.equal(key.length, 4);
      assert.equal(key.byteLength, 4);
    }
    const distinct = new Set(keys.map(toHex));
    // 2100 random 32-bit keys: three or more collisions have a probability below 1e-10.
    assert.ok(
      distinct.size >= 2098,
      `only ${distinct.size} distinct keys of 2100`,
    );
    // Each key is the caller's own: changing one changes no other, nor later keys.
    const snapshot = keys.map((k) => k.slice());
    keys[0].fill(0);
    keys[1].fill(0xff);
    for (let i = 2; i < keys.length; i++) {
      assert.deepEqual(keys[i], snapshot[i]);
    }
    const later = randomMaskKey();
    later.fill(0);
    assert.notDeepEqual(randomMaskKey(), new Uint8Array(4));
    // The bits look random: every bit position is set in some keys and clear in others.
    for (let bit = 0; bit < 32; bit++) {
      const ones = snapshot.filter((k) => (k[bit >> 3] >> (bit & 7)) & 1).length;
      assert.ok(
        ones > 800 && ones < 1300,
        `bit ${bit} set in ${ones} of 2100 keys`,
      );
    }
  });
});
