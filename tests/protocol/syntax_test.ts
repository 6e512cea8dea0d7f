import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { base64, isBase64Char, isTchar, isToken, quote } from "../../src/protocol/syntax.ts";

describe("RFC 9110 §5.6.2: tchar and token", () => {
  it("accepts exactly the tchar set, for every code unit up to U+FFFF", () => {
    const tchars = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for (let code = 0; code <= 0xffff; code++) {
      assert.equal(isTchar(code), tchars.includes(String.fromCharCode(code)), `U+${code.toString(16)}`);
    }
    assert.equal(isToken(tchars), true);
    for (const bad of ["", "a b", "a,b", "a\u0100", '"a"', "a/b", "\u00e9"]) assert.equal(isToken(bad), false, bad);
  });
});

describe("RFC 4648 §4: base64", () => {
  it("matches btoa for every length from 0 to 70 and every byte value", () => {
    const bytes = new Uint8Array(256);
    for (let i = 0; i < 256; i++) bytes[i] = (i * 167 + 13) & 0xff;
    for (let length = 0; length <= 70; length++) {
      const view = bytes.subarray(length, length * 2);
      assert.equal(base64(view), btoa(String.fromCharCode(...view)), `length ${length}`);
    }
    assert.equal(base64(bytes), btoa(String.fromCharCode(...bytes)));
    assert.equal(base64(bytes, 5), btoa(String.fromCharCode(...bytes.subarray(0, 5))));
  });

  it("knows the alphabet", () => {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (let code = 0; code < 0x300; code++) {
      assert.equal(isBase64Char(code), alphabet.includes(String.fromCharCode(code)), `U+${code.toString(16)}`);
    }
  });
});

describe("quote: values in error messages", () => {
  it("quotes JSON style and shortens past 64 characters", () => {
    assert.equal(quote('a"b'), '"a\\"b"');
    assert.equal(quote("x".repeat(64)), JSON.stringify("x".repeat(64)));
    assert.equal(quote("x".repeat(65)), JSON.stringify("x".repeat(64) + "…"));
  });
});
