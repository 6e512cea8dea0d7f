// The fast paths for short messages: ASCII text decoded by the runtime's
// decoder (src/runtime/text.ts hands it down), short ASCII text encoded by a
// loop, and receiveData() saying whether the caller may reuse a chunk's memory.
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Protocol } from "../../src/protocol/protocol.ts";
import type { ProtocolEvent } from "../../src/protocol/protocol.ts";
import {
  asciiSlice,
  decodeAscii,
  decodeShortText,
  decodeText,
  SHORT_ASCII_TEXT,
  useAsciiDecoder,
} from "../../src/protocol/utf8.ts";
import { RequestHeadParser } from "../../src/protocol/http1.ts";
import { concat, frame, hex, OP, parseFrames, utf8 } from "./_helpers.ts";

const KEY = hex("37 fa 21 3d");

/** A decoder that counts its calls (plain JavaScript, any runtime). */
function countingDecoder() {
  const calls: Array<[number, number]> = [];
  const decode = (bytes: Uint8Array, start: number, end: number) => {
    calls.push([start, end]);
    let s = "";
    for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]);
    return s;
  };
  return { calls, decode };
}

function serverEvents(chunks: Uint8Array[]): ProtocolEvent[] {
  const p = new Protocol({ role: "server" });
  for (const c of chunks) p.receiveData(c);
  return p.eventsReceived();
}

/** Events as [type, data] pairs (data copied out of any shared buffer). */
function plain(events: readonly ProtocolEvent[]): Array<[string, unknown]> {
  return events.map((e) => [e.type, "data" in e ? (typeof e.data === "string" ? e.data : e.data.slice()) : e]);
}

afterEach(() => useAsciiDecoder(null));

describe("short text: decoding", () => {
  it("decodeShortText uses the runtime's decoder for ASCII only, and stays strict", () => {
    const { calls, decode } = countingDecoder();
    useAsciiDecoder(decode);
    assert.equal(decodeShortText(utf8("Hello!xx"), 6), "Hello!");
    assert.deepEqual(calls, [[0, 6]]);
    assert.equal(decodeShortText(utf8("héllo"), 6), "héllo");
    assert.equal(decodeShortText(hex("ef bb bf 41"), 4), "\ufeffA", "a BOM is kept");
    assert.equal(decodeShortText(hex("c0 80"), 2), null, "overlong");
    assert.equal(decodeShortText(hex("41 80"), 2), null, "lone continuation byte");
    const long = utf8("x".repeat(SHORT_ASCII_TEXT + 1));
    assert.equal(decodeShortText(long, long.length), "x".repeat(SHORT_ASCII_TEXT + 1));
    assert.equal(calls.length, 1, "non-ASCII, invalid and longer text go through TextDecoder");
  });

  it("decodeText (whole messages, any length): ASCII through the runtime's decoder, the rest strict", () => {
    const { calls, decode } = countingDecoder();
    useAsciiDecoder(decode);
    const json = JSON.stringify(Array.from({ length: 3000 }, (_, k) => ({ k, name: `item ${k}` })));
    const bytes = utf8(json);
    // Every alignment of the view, so that the head, the words and the tail are all read.
    for (let offset = 0; offset < 4; offset++) {
      const view = concat(new Uint8Array(offset), bytes).subarray(offset);
      assert.equal(decodeText(view), json);
    }
    assert.equal(calls.length, 4);
    // A non-ASCII or invalid byte anywhere (start, inside the words, past a check, in the tail).
    for (const at of [0, 5, 700, 1024 * 4 + 3, bytes.length - 1]) {
      const valid = concat(bytes.subarray(0, at), utf8("é"), bytes.subarray(at));
      assert.equal(decodeText(valid), json.slice(0, at) + "é" + json.slice(at), `é at ${at}`);
      const invalid = bytes.slice();
      invalid[at] = 0x80;
      assert.equal(decodeText(invalid), null, `0x80 at ${at}`);
    }
    assert.equal(calls.length, 4, "non-ASCII text goes through TextDecoder");
    useAsciiDecoder(null);
    assert.equal(decodeText(bytes), json);
  });

  it("decodeAscii works with and without a runtime decoder", () => {
    assert.equal(decodeAscii(utf8("abc!"), 3), "abc");
    const { calls, decode } = countingDecoder();
    useAsciiDecoder(decode);
    assert.equal(decodeAscii(utf8("abc!"), 3), "abc");
    assert.deepEqual(calls, [[0, 3]]);
  });

  for (const decoder of ["none", "counting"] as const) {
    it(`text frames decode the same with ${decoder} decoder, whole or byte by byte`, () => {
      const counting = countingDecoder();
      if (decoder === "counting") useAsciiDecoder(counting.decode);
      const texts = ["", "a", "abc", "abcd", "abcde", "x".repeat(31), "y".repeat(32), "z".repeat(125), "é", "aaaé"];
      texts.push("q".repeat(SHORT_ASCII_TEXT), "r".repeat(SHORT_ASCII_TEXT + 1), "日本語".repeat(10));
      for (const text of texts) {
        for (const mask of [KEY, null]) {
          const bytes = concat(
            frame({ opcode: OP.TEXT, payload: text, mask }),
            frame({ opcode: OP.TEXT, payload: "!", mask }),
          );
          const p = new Protocol({ role: mask ? "server" : "client" });
          p.receiveData(bytes);
          assert.deepEqual(plain(p.eventsReceived()), [["text", text], ["text", "!"]], `${text} whole`);
          const q = new Protocol({ role: mask ? "server" : "client" });
          for (let i = 0; i < bytes.length; i++) q.receiveData(bytes.slice(i, i + 1));
          assert.deepEqual(plain(q.eventsReceived()), [["text", text], ["text", "!"]], `${text} byte by byte`);
        }
      }
      if (decoder === "counting") assert.ok(counting.calls.length > 0, "the decoder was used");
    });
  }

  it("invalid UTF-8 in a short frame still fails with 1007, with a decoder in place", () => {
    useAsciiDecoder(countingDecoder().decode);
    for (const payload of [hex("41 42 c0 80"), hex("80"), hex("41 ed a0 80 41")]) {
      const events = serverEvents([frame({ opcode: OP.TEXT, payload, mask: KEY })]);
      assert.equal(events.length, 1);
      assert.equal(events[0].type, "error");
      assert.equal((events[0] as { error: { code: number } }).error.code, 1007);
    }
  });
});

describe("short text: encoding", () => {
  it("short text, ASCII or not, encodes to the frame the general path makes (every length to 45)", () => {
    for (let n = 0; n <= 45; n++) {
      for (const text of ["a".repeat(n), "é" + "b".repeat(Math.max(0, n - 1)), "c".repeat(n) + "€"]) {
        const server = new Protocol({ role: "server" });
        server.sendText(text);
        const frames = parseFrames(concat(...server.dataToSend()));
        assert.equal(frames.length, 1);
        assert.equal(frames[0].opcode, OP.TEXT);
        assert.deepEqual(frames[0].payload, utf8(text), JSON.stringify(text));
      }
    }
  });

  it("a client draws one masking key per short frame, also when the text is not ASCII", () => {
    let keys = 0;
    const client = new Protocol({
      role: "client",
      maskKey: () => {
        keys++;
        return KEY;
      },
    });
    for (const text of ["hi", "héllo", "x".repeat(40), "€"]) client.sendText(text);
    assert.equal(keys, 4);
    const server = new Protocol({ role: "server" });
    server.receiveData(concat(...client.dataToSend()));
    assert.deepEqual(plain(server.eventsReceived()), [["text", "hi"], ["text", "héllo"], ["text", "x".repeat(40)], [
      "text",
      "€",
    ]]);
  });
});

describe("receiveData: may the caller reuse the chunk?", () => {
  it("yes when every frame in it was whole", () => {
    const p = new Protocol({ role: "server" });
    assert.equal(p.receiveData(frame({ opcode: OP.TEXT, payload: "hello", mask: KEY })), true);
    assert.equal(p.receiveData(frame({ opcode: OP.BINARY, payload: hex("01 02"), mask: KEY })), true);
    assert.deepEqual(plain(p.eventsReceived()), [["text", "hello"], ["binary", hex("01 02")]]);
  });

  it("yes when a cut frame's first bytes are few: they were copied, and overwriting the chunk changes nothing", () => {
    const whole = concat(
      frame({ opcode: OP.TEXT, payload: "first", mask: KEY }),
      frame({ opcode: OP.TEXT, payload: "second message", mask: KEY }),
    );
    for (let cut = 1; cut < whole.length; cut++) {
      const p = new Protocol({ role: "server" });
      // One read buffer, read into twice, as a transport that reuses memory does.
      const buffer = new Uint8Array(64);
      buffer.set(whole.subarray(0, cut));
      assert.equal(p.receiveData(buffer.subarray(0, cut)), true, `cut at ${cut}`);
      buffer.fill(0xee);
      buffer.set(whole.subarray(cut));
      assert.equal(p.receiveData(buffer.subarray(0, whole.length - cut)), true);
      assert.deepEqual(plain(p.eventsReceived()), [["text", "first"], ["text", "second message"]], `cut at ${cut}`);
    }
  });

  it("no when more than 4 KiB of a frame wait in the chunk (it is kept, not copied)", () => {
    const big = frame({ opcode: OP.BINARY, payload: new Uint8Array(10_000).fill(7), mask: KEY });
    const p = new Protocol({ role: "server" });
    assert.equal(p.receiveData(big.slice(0, 6000)), false);
    assert.equal(p.receiveData(big.slice(6000)), true);
    const [event] = p.eventsReceived();
    assert.equal(event.type, "binary");
    assert.deepEqual((event as { data: Uint8Array }).data, new Uint8Array(10_000).fill(7));
  });

  it("yes once the input is discarded (after a close frame)", () => {
    const p = new Protocol({ role: "server" });
    p.receiveData(frame({ opcode: OP.CLOSE, payload: hex("03 e8"), mask: KEY }));
    assert.equal(p.receiveData(frame({ opcode: OP.TEXT, payload: "late", mask: KEY }).subarray(0, 3)), true);
  });
});

describe("asciiSlice: HTTP head strings through the runtime's decoder", () => {
  it("gives ASCII runs to the decoder, and null for others or without a decoder", () => {
    const bytes = utf8("GET /caf\u00e9 x");
    assert.equal(asciiSlice(bytes, 0, 3), null, "no decoder");
    const { calls, decode } = countingDecoder();
    useAsciiDecoder(decode);
    assert.equal(asciiSlice(bytes, 0, 3), "GET");
    assert.equal(asciiSlice(bytes, 4, 8), "/caf");
    assert.equal(asciiSlice(bytes, 4, 10), null, "é is not ASCII");
    assert.equal(asciiSlice(bytes, 5, 5), "");
    assert.deepEqual(calls, [[0, 3], [4, 8], [5, 5]]);
  });

  it("the head parser decodes an ASCII head through it in one call, and keeps obs-text as Latin-1", () => {
    const { calls, decode } = countingDecoder();
    useAsciiDecoder(decode);
    const ascii = new RequestHeadParser().push(new TextEncoder().encode("GET /x HTTP/1.1\r\nHost: a.test\r\n\r\n"));
    assert.equal(ascii.state, "done");
    if (ascii.state !== "done") return;
    assert.deepEqual(ascii.head.fields, [["host", "a.test"]]);
    assert.equal(calls.length, 1, "one call for the whole head");
    const head = new TextEncoder().encode("GET /x HTTP/1.1\r\nHost: a.test\r\nX-Name: Caf");
    const latin = new Uint8Array([0xe9, 0x0d, 0x0a, 0x0d, 0x0a]);
    const result = new RequestHeadParser().push(concat(head, latin));
    assert.equal(result.state, "done");
    if (result.state !== "done") return;
    assert.equal(result.head.target, "/x");
    assert.deepEqual(result.head.fields, [["host", "a.test"], ["X-Name", "Caf\u00e9"]]);
  });
});
