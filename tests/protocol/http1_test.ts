import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULT_MAX_HEAD_SIZE,
  DEFAULT_MAX_HEADERS,
  type HeadLimits,
  type HeadResult,
  type RequestHead,
  RequestHeadParser,
  type ResponseHead,
  ResponseHeadParser,
  serializeRequestHead,
  serializeResponseHead,
} from "../../src/protocol/http1.ts";
import { concat, latin1 as bytes } from "../_shared/bytes.ts";

// ───────────────────────────── helpers ─────────────────────────────

function latin1(data: Uint8Array): string {
  let s = "";
  for (const b of data) s += String.fromCharCode(b);
  return s;
}

type Parser<T> = { push(chunk: Uint8Array): HeadResult<T> };
type Kind = "request" | "response";

function makeParser(kind: "request", limits?: HeadLimits): RequestHeadParser;
function makeParser(kind: "response", limits?: HeadLimits): ResponseHeadParser;
function makeParser(
  kind: Kind,
  limits?: HeadLimits,
): Parser<RequestHead | ResponseHead>;
function makeParser(
  kind: Kind,
  limits?: HeadLimits,
): Parser<RequestHead | ResponseHead> {
  return kind === "request" ? new RequestHeadParser(limits) : new ResponseHeadParser(limits);
}

/**
 * Push `chunks` one after the other, as a caller would: stop at the first
 * result that is not "incomplete"; on "done", the chunks not pushed belong to
 * the caller, so they are appended to `rest`. The parser must then refuse
 * more input.
 */
function feed<T>(parser: Parser<T>, chunks: Uint8Array[]): HeadResult<T> {
  for (let i = 0; i < chunks.length; i++) {
    const result = parser.push(chunks[i]);
    if (result.state === "incomplete") continue;
    assert.throws(() => parser.push(new Uint8Array(1)), {
      name: "TypeError",
      message: "Cannot push: the head was already parsed",
    });
    if (result.state === "error") return result;
    return { ...result, rest: concat(result.rest, ...chunks.slice(i + 1)) };
  }
  return { state: "incomplete" };
}

function byteByByte(data: Uint8Array): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < data.length; i++) chunks.push(data.subarray(i, i + 1));
  return chunks;
}

/** Every way to cut `data` into two chunks (either may be empty). */
function twoWaySplits(data: Uint8Array): Uint8Array[][] {
  const splits: Uint8Array[][] = [];
  for (let i = 0; i <= data.length; i++) {
    splits.push([data.subarray(0, i), data.subarray(i)]);
  }
  return splits;
}

/** A plain, comparable view of a result. */
function summary(result: HeadResult<RequestHead | ResponseHead>): unknown {
  if (result.state !== "done") return result;
  const { headers, ...rest } = result.head;
  return {
    head: {
      ...rest,
      headers: [...headers],
      setCookie: headers.getSetCookie(),
    },
    rest: [...result.rest],
  };
}

/**
 * Feed `data` whole, byte by byte and split at every point (two chunks), and
 * at every pair of points when short: all must give the same result.
 */
function parseEveryWay(
  kind: Kind,
  data: Uint8Array,
  limits?: HeadLimits,
): HeadResult<RequestHead | ResponseHead> {
  const whole = feed(makeParser(kind, limits), [data]);
  const expected = summary(whole);
  assert.deepEqual(
    summary(feed(makeParser(kind, limits), byteByByte(data))),
    expected,
    "byte by byte",
  );
  for (const chunks of twoWaySplits(data)) {
    assert.deepEqual(
      summary(feed(makeParser(kind, limits), chunks)),
      expected,
      `split at ${chunks[0].length}`,
    );
  }
  if (data.length <= 80) {
    for (let i = 0; i <= data.length; i++) {
      for (let j = i; j <= data.length; j++) {
        const chunks = [
          data.subarray(0, i),
          data.subarray(i, j),
          data.subarray(j),
        ];
        assert.deepEqual(
          summary(feed(makeParser(kind, limits), chunks)),
          expected,
          `split at ${i} and ${j}`,
        );
      }
    }
  }
  return whole;
}

function expectDone<T>(
  result: HeadResult<T>,
): { head: T; rest: Uint8Array } {
  if (result.state !== "done") {
    assert.fail(`expected done, got ${JSON.stringify(result)}`);
  }
  return result;
}

function expectError(
  result: HeadResult<unknown>,
  status: number,
  messagePattern?: RegExp,
): void {
  if (result.state !== "error") {
    assert.fail(`expected error ${status}, got ${result.state}`);
  }
  assert.equal(result.status, status, result.message);
  assert.equal(typeof result.message, "string");
  assert.ok(result.message.length > 0);
  if (messagePattern) assert.match(result.message, messagePattern);
}

/** Parse `text` every way and expect the error `status`. */
function rejects(
  kind: Kind,
  text: string,
  status: number,
  messagePattern?: RegExp,
): void {
  expectError(parseEveryWay(kind, bytes(text)), status, messagePattern);
}

function requestHead(text: string): RequestHead {
  return expectDone(parseEveryWay("request", bytes(text))).head as RequestHead;
}

function responseHead(text: string): ResponseHead {
  return expectDone(parseEveryWay("response", bytes(text)))
    .head as ResponseHead;
}

/** A fake `Headers` that yields anything, to reach the serializer's checks. */
function fakeHeaders(entries: [string, string][]): Headers {
  return {
    [Symbol.iterator]: () => entries[Symbol.iterator](),
  } as unknown as Headers;
}

// RFC 6455 §1.2: the sample handshake.
const SAMPLE_REQUEST = "GET /chat HTTP/1.1\r\n" +
  "Host: server.example.com\r\n" +
  "Upgrade: websocket\r\n" +
  "Connection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
  "Origin: http://example.com\r\n" +
  "Sec-WebSocket-Protocol: chat, superchat\r\n" +
  "Sec-WebSocket-Version: 13\r\n" +
  "\r\n";

const SAMPLE_RESPONSE = "HTTP/1.1 101 Switching Protocols\r\n" +
  "Upgrade: websocket\r\n" +
  "Connection: Upgrade\r\n" +
  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
  "Sec-WebSocket-Protocol: chat\r\n" +
  "\r\n";

// A masked text frame "Hello" (RFC 6455 §5.7) and an unmasked one.
const MASKED_HELLO = Uint8Array.of(
  0x81,
  0x85,
  0x37,
  0xfa,
  0x21,
  0x3d,
  0x7f,
  0x9f,
  0x4d,
  0x51,
  0x58,
  0x0d,
  0x0a,
  0x0d,
  0x0a,
);
const UNMASKED_HELLO = Uint8Array.of(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f);

/** A valid request head whose size is exactly `size` bytes. */
function requestOfSize(size: number): string {
  const prefix = "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ";
  const suffix = "\r\n\r\n";
  const pad = size - prefix.length - suffix.length;
  assert.ok(pad >= 1, "test bug: size too small");
  return prefix + "a".repeat(pad) + suffix;
}

// ───────────────────────────── tests ─────────────────────────────

describe("RFC 9112 §2.1: a head in chunks of any size", () => {
  it("parses the RFC 6455 §1.2 request every way", () => {
    const head = requestHead(SAMPLE_REQUEST);
    assert.equal(head.method, "GET");
    assert.equal(head.target, "/chat");
    assert.equal(head.version, "HTTP/1.1");
    assert.equal(head.headers.get("host"), "server.example.com");
    assert.equal(head.headers.get("Upgrade"), "websocket");
    assert.equal(
      head.headers.get("sec-websocket-key"),
      "dGhlIHNhbXBsZSBub25jZQ==",
    );
    assert.equal(head.headers.get("sec-websocket-protocol"), "chat, superchat");
    assert.equal([...head.headers].length, 7);
  });

  it("gives the fields in order as pairs, common names as shared lower-case strings, others as sent", () => {
    const head = requestHead(
      "GET / HTTP/1.1\r\nHOST: a.test\r\nsec-WEBSOCKET-key: k\r\nX-Custom-Thing: 1\r\nUpgrade: websocket\r\n" +
        "X-Custom-Thing: 2\r\nHosts: no\r\n\r\n",
    );
    assert.deepEqual(head.fields, [
      ["host", "a.test"],
      ["sec-websocket-key", "k"],
      ["X-Custom-Thing", "1"],
      ["upgrade", "websocket"],
      ["X-Custom-Thing", "2"],
      ["Hosts", "no"],
    ]);
    assert.equal(head.headers.get("x-custom-thing"), "1, 2");
    assert.equal(head.headers, head.headers, "made once");
    // A name that only looks like a common one when case is folded wrongly.
    assert.deepEqual(requestHead("GET / HTTP/1.1\r\nHost: a\r\nupgrad~: x\r\n\r\n").fields[1], ["upgrad~", "x"]);
  });

  it("parses the RFC 6455 §1.2 response every way", () => {
    const head = responseHead(SAMPLE_RESPONSE);
    assert.equal(head.status, 101);
    assert.equal(head.statusText, "Switching Protocols");
    assert.equal(head.version, "HTTP/1.1");
    assert.equal(
      head.headers.get("sec-websocket-accept"),
      "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
    );
    assert.equal([...head.headers].length, 4);
  });

  it("gives an empty rest when nothing follows the head", () => {
    for (
      const [kind, text] of [
        ["request", SAMPLE_REQUEST],
        ["response", SAMPLE_RESPONSE],
      ] as const
    ) {
      const { rest } = expectDone(parseEveryWay(kind, bytes(text)));
      assert.ok(rest instanceof Uint8Array);
      assert.equal(rest.length, 0);
    }
  });

  it("returns the bytes after the head untouched, however it was cut", () => {
    // Frames whose bytes look like CRLF CRLF must not confuse the scan.
    const cases = [
      ["request", SAMPLE_REQUEST, MASKED_HELLO],
      ["response", SAMPLE_RESPONSE, UNMASKED_HELLO],
      ["request", SAMPLE_REQUEST, bytes("\r\n\r\nGET / HTTP/1.1\r\n\r\n")],
      ["response", SAMPLE_RESPONSE, Uint8Array.of(0x00, 0xff, 0x0d)],
    ] as const;
    for (const [kind, text, frames] of cases) {
      const data = concat(bytes(text), frames);
      const { rest } = expectDone(parseEveryWay(kind, data));
      assert.deepEqual([...rest], [...frames]);
    }
  });

  it("keeps every byte when CRLF CRLF ends exactly at a chunk boundary", () => {
    const head = bytes(SAMPLE_REQUEST);
    const parser = new RequestHeadParser();
    const result = expectDone(parser.push(head));
    assert.equal(result.rest.length, 0);
    // The same with a preceding chunk.
    const parser2 = new RequestHeadParser();
    assert.equal(parser2.push(head.subarray(0, 20)).state, "incomplete");
    assert.equal(expectDone(parser2.push(head.subarray(20))).rest.length, 0);
  });

  it("finds CRLF CRLF split as \\r\\n\\r + \\n… across chunks", () => {
    const head = bytes(SAMPLE_RESPONSE);
    for (const cut of [1, 2, 3]) {
      const parser = new ResponseHeadParser();
      const first = head.subarray(0, head.length - cut);
      const second = concat(head.subarray(head.length - cut), UNMASKED_HELLO);
      assert.equal(parser.push(first).state, "incomplete");
      const { rest } = expectDone(parser.push(second));
      assert.deepEqual([...rest], [...UNMASKED_HELLO]);
    }
  });

  it("accepts empty chunks at any point", () => {
    const data = concat(bytes(SAMPLE_REQUEST), MASKED_HELLO);
    const empty = new Uint8Array(0);
    const chunks = [
      empty,
      data.subarray(0, 30),
      empty,
      empty,
      data.subarray(30),
    ];
    const { rest } = expectDone(feed(new RequestHeadParser(), chunks));
    assert.deepEqual([...rest], [...MASKED_HELLO]);
  });

  it("hands out a copy in rest and never modifies the chunks", () => {
    const data = concat(bytes(SAMPLE_REQUEST), MASKED_HELLO);
    // A view with a non-zero offset into a larger buffer.
    const backing = new Uint8Array(data.length + 10);
    backing.set(data, 5);
    const chunk = backing.subarray(5, 5 + data.length);
    const before = [...backing];
    const { rest } = expectDone(new RequestHeadParser().push(chunk));
    assert.deepEqual([...backing], before);
    assert.equal(rest.constructor, Uint8Array);
    chunk.fill(0); // the caller reuses its buffer
    assert.deepEqual([...rest], [...MASKED_HELLO]);
  });

  it("refuses pushes after done and after error", () => {
    const done = new ResponseHeadParser();
    expectDone(done.push(bytes(SAMPLE_RESPONSE)));
    assert.throws(() => done.push(new Uint8Array(0)), {
      name: "TypeError",
      message: "Cannot push: the head was already parsed",
    });
    const failed = new RequestHeadParser();
    expectError(failed.push(bytes("GET / HTTP/1.1\n")), 400);
    assert.throws(() => failed.push(bytes("\r\n")), {
      name: "TypeError",
      message: "Cannot push: the head was already parsed",
    });
  });

  it("throws a TypeError for a chunk that is not a Uint8Array", () => {
    const parser = new RequestHeadParser();
    for (const bad of ["GET", null, undefined, [71], new ArrayBuffer(3)]) {
      assert.throws(
        () => parser.push(bad as unknown as Uint8Array),
        { name: "TypeError", message: /^Cannot push: expected a Uint8Array/ },
      );
    }
    // The parser is still usable: a caller mistake consumed nothing.
    expectDone(parser.push(bytes(SAMPLE_REQUEST)));
  });
});

describe("RFC 9112 §2.2: line endings", () => {
  it("rejects a bare LF anywhere with 400, at the LF itself", () => {
    const cases = [
      "GET / HTTP/1.1\nHost: x\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\n\n",
      "GET / HTTP/1.1\r\nHost: x\r\nX: a\nb\r\n\r\n",
      "GET / HTTP/1.1\n\n",
    ];
    for (const text of cases) {
      rejects("request", text, 400, /bare LF/);
      // The error comes at the bare LF itself, not after buffering the rest.
      const data = bytes(text);
      let bareAt = 0;
      while (data[bareAt] !== 0x0a || data[bareAt - 1] === 0x0d) bareAt++;
      const parser = new RequestHeadParser();
      for (let i = 0; i < bareAt; i++) {
        assert.equal(parser.push(data.subarray(i, i + 1)).state, "incomplete");
      }
      expectError(parser.push(data.subarray(bareAt, bareAt + 1)), 400);
    }
    // A response with bare LFs, as some broken servers send.
    rejects("response", "HTTP/1.1 101 Switching Protocols\n\n", 400, /LF/);
    const parser = new ResponseHeadParser();
    const data = bytes("HTTP/1.1 101 OK\nUpgrade: websocket\n\n");
    for (let i = 0; i < 15; i++) {
      assert.equal(parser.push(data.subarray(i, i + 1)).state, "incomplete");
    }
    expectError(parser.push(data.subarray(15, 16)), 400);
  });

  it("rejects a bare CR with 400", () => {
    for (
      const text of [
        "GET / HTTP/1.1\rHost: x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\n\r\r\n",
        "\rGET / HTTP/1.1\r\nHost: x\r\n\r\n",
      ]
    ) {
      rejects("request", text, 400, /CR/);
    }
    rejects("response", "HTTP/1.1 101 OK\r\n\rX", 400, /CR/);
  });

  it("skips empty lines before a request line", () => {
    const head = requestHead("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.equal(head.method, "GET");
    assert.equal(head.headers.get("host"), "x");
  });

  it("counts those empty lines towards maxHeadSize", () => {
    const text = "\r\n".repeat(10) + "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    const fits = { maxHeadSize: text.length };
    expectDone(parseEveryWay("request", bytes(text), fits));
    const tight = { maxHeadSize: text.length - 1 };
    expectError(parseEveryWay("request", bytes(text), tight), 431);
    // An endless stream of CRLF ends in 431, not in an endless loop.
    const flood = bytes("\r\n".repeat(DEFAULT_MAX_HEAD_SIZE));
    expectError(new RequestHeadParser().push(flood), 431);
  });

  it("does not skip empty lines before a status line", () => {
    rejects("response", "\r\nHTTP/1.1 101 OK\r\n\r\n", 400);
  });
});

describe("limits: maxHeadSize (431)", () => {
  it("has the documented defaults", () => {
    assert.equal(DEFAULT_MAX_HEAD_SIZE, 16384);
    assert.equal(DEFAULT_MAX_HEADERS, 100);
  });

  it("accepts a head of exactly maxHeadSize bytes", () => {
    const text = requestOfSize(DEFAULT_MAX_HEAD_SIZE);
    assert.equal(text.length, DEFAULT_MAX_HEAD_SIZE);
    const data = concat(bytes(text), MASKED_HELLO);
    // Whole, byte by byte, and cut once: the rest may run past the limit.
    const whole = expectDone(new RequestHeadParser().push(data));
    assert.deepEqual([...whole.rest], [...MASKED_HELLO]);
    const bytewise = expectDone(
      feed(new RequestHeadParser(), byteByByte(data)),
    );
    assert.deepEqual([...bytewise.rest], [...MASKED_HELLO]);
    for (const cut of [1, 1000, DEFAULT_MAX_HEAD_SIZE - 2, data.length - 1]) {
      const r = feed(new RequestHeadParser(), [
        data.subarray(0, cut),
        data.subarray(cut),
      ]);
      assert.deepEqual([...expectDone(r).rest], [...MASKED_HELLO]);
    }
  });

  it("fails at the very byte that crosses the limit, fed byte by byte", () => {
    const max = 200;
    const data = bytes(requestOfSize(max + 1));
    const parser = new RequestHeadParser({ maxHeadSize: max });
    for (let i = 0; i < max; i++) {
      assert.equal(parser.push(data.subarray(i, i + 1)).state, "incomplete");
    }
    expectError(parser.push(data.subarray(max, max + 1)), 431, /200 bytes/);
  });

  it("fails at once on a single huge chunk, never scanning past the limit", () => {
    // Had the scan gone past the limit, the bare LF would make it a 400.
    const huge = new Uint8Array(8 * 1024 * 1024).fill(0x61); // 8 MiB of "a"
    huge[DEFAULT_MAX_HEAD_SIZE + 1] = 0x0a;
    const started = performance.now();
    expectError(new RequestHeadParser().push(huge), 431);
    expectError(new ResponseHeadParser().push(huge), 431);
    const small = new RequestHeadParser({ maxHeadSize: 10 });
    expectError(small.push(bytes("GET / HTTP/1.1\n\n")), 431);
    assert.ok(performance.now() - started < 500);
  });

  it("fails in the chunk that crosses the limit, for any cut", () => {
    const max = 100;
    const data = bytes(requestOfSize(max + 50));
    for (let cut = 1; cut < data.length; cut++) {
      const parser = new RequestHeadParser({ maxHeadSize: max });
      const first = parser.push(data.subarray(0, cut));
      if (cut <= max) {
        assert.equal(first.state, "incomplete");
        expectError(parser.push(data.subarray(cut)), 431);
      } else {
        expectError(first, 431);
      }
    }
  });

  it("limits response heads too", () => {
    const text = "HTTP/1.1 101 " + "x".repeat(100) + "\r\n\r\n";
    const limits = { maxHeadSize: text.length };
    expectDone(parseEveryWay("response", bytes(text), limits));
    expectError(
      parseEveryWay("response", bytes(text), { maxHeadSize: text.length - 1 }),
      431,
    );
  });

  it("rejects invalid limits", () => {
    for (const Parser of [RequestHeadParser, ResponseHeadParser]) {
      assert.throws(() => new Parser({ maxHeadSize: 0 }), RangeError);
      assert.throws(() => new Parser({ maxHeadSize: -1 }), RangeError);
      assert.throws(() => new Parser({ maxHeadSize: 1.5 }), RangeError);
      assert.throws(() => new Parser({ maxHeadSize: Infinity }), RangeError);
      assert.throws(() => new Parser({ maxHeadSize: NaN }), RangeError);
      assert.throws(() => new Parser({ maxHeaders: -1 }), RangeError);
      assert.throws(
        () => new Parser({ maxHeadSize: "1024" as unknown as number }),
        TypeError,
      );
      assert.throws(
        () => new Parser({ maxHeadsize: 10 } as unknown as HeadLimits),
        { name: "TypeError", message: /unknown limit "maxHeadsize"/ },
      );
      assert.throws(
        () => new Parser(null as unknown as HeadLimits),
        TypeError,
      );
      // Explicit undefined means the default.
      new Parser({ maxHeadSize: undefined, maxHeaders: undefined });
      new Parser({});
    }
  });
});

describe("limits: maxHeaders (431)", () => {
  function withHeaders(count: number): string {
    let text = "GET / HTTP/1.1\r\nHost: x\r\n";
    for (let i = 1; i < count; i++) text += `X-H${i}: ${i}\r\n`;
    return text + "\r\n";
  }

  it("accepts exactly maxHeaders header lines", () => {
    const head = expectDone(
      new RequestHeadParser().push(bytes(withHeaders(DEFAULT_MAX_HEADERS))),
    ).head;
    assert.equal([...head.headers].length, DEFAULT_MAX_HEADERS);
    expectDone(
      parseEveryWay("request", bytes(withHeaders(3)), { maxHeaders: 3 }),
    );
  });

  it("rejects one more with 431", () => {
    expectError(
      new RequestHeadParser().push(bytes(withHeaders(DEFAULT_MAX_HEADERS + 1))),
      431,
      /100 header lines/,
    );
    expectError(
      parseEveryWay("request", bytes(withHeaders(4)), { maxHeaders: 3 }),
      431,
    );
  });

  it("counts repeated fields line by line", () => {
    const text = "HTTP/1.1 200 OK\r\n" + "Set-Cookie: a=1\r\n".repeat(5) +
      "\r\n";
    expectDone(parseEveryWay("response", bytes(text), { maxHeaders: 5 }));
    expectError(
      parseEveryWay("response", bytes(text), { maxHeaders: 4 }),
      431,
    );
  });

  it("allows maxHeaders 0 for heads without headers", () => {
    const head = expectDone(
      parseEveryWay("request", bytes("GET / HTTP/1.0\r\n\r\n"), {
        maxHeaders: 0,
      }),
    ).head as RequestHead;
    assert.equal(head.version, "HTTP/1.0");
    expectError(
      parseEveryWay("response", bytes("HTTP/1.1 101 OK\r\nA: b\r\n\r\n"), {
        maxHeaders: 0,
      }),
      431,
    );
  });
});

describe("RFC 9112 §3: the request line", () => {
  it("accepts any token as a method, case preserved", () => {
    for (const method of ["GET", "get", "M-SEARCH", "X!#$%&'*+-.^_`|~9"]) {
      const head = requestHead(`${method} / HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.equal(head.method, method);
    }
  });

  it("accepts the four forms of request-target (§3.2)", () => {
    for (
      const target of [
        "/",
        "/chat?room=1&x=%20y",
        "http://example.com:8080/chat#frag",
        "example.com:443",
        "*",
      ]
    ) {
      const head = requestHead(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.equal(head.target, target);
    }
  });

  it("reports HTTP/1.0 and HTTP/1.1", () => {
    assert.equal(requestHead("GET / HTTP/1.0\r\n\r\n").version, "HTTP/1.0");
    assert.equal(
      requestHead("GET / HTTP/1.1\r\nHost: x\r\n\r\n").version,
      "HTTP/1.1",
    );
  });

  it("rejects a method that is not a token with 400", () => {
    for (const method of ["G(T", "GE T", "GET\x00", "GÉT", "G\x7fT", "[GET]"]) {
      rejects("request", `${method} / HTTP/1.1\r\nHost: x\r\n\r\n`, 400);
    }
  });

  it("rejects anything but single spaces between the parts with 400", () => {
    for (
      const line of [
        "GET  / HTTP/1.1", // two spaces
        "GET /  HTTP/1.1",
        " GET / HTTP/1.1", // leading space
        "GET / HTTP/1.1 ", // trailing space
        "GET\t/ HTTP/1.1", // tab
        "GET /\tHTTP/1.1",
        "GET / \tHTTP/1.1",
        "/ HTTP/1.1", // no method
        "GET", // only a method
      ]
    ) {
      rejects("request", `${line}\r\nHost: x\r\n\r\n`, 400);
    }
  });

  it("rejects a missing version with 400", () => {
    for (const line of ["GET /", "GET / ", "GET HTTP/1.1"]) {
      rejects("request", `${line}\r\nHost: x\r\n\r\n`, 400);
    }
  });

  it("rejects control characters, spaces and non-ASCII in the target with 400", () => {
    for (
      const target of ["/a\x00b", "/a\x01", "/a\x7f", "/caf\xe9", "/a\x1b[0m"]
    ) {
      rejects("request", `GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`, 400);
    }
  });

  it("rejects a malformed version with 400 (§2.3, case-sensitive)", () => {
    for (
      const version of [
        "http/1.1",
        "HTTP/1",
        "HTTP/1.1.1",
        "HTTP/11",
        "HTTP/1.x",
        "HTTP/10.0",
        "HTTPS/1.1",
        "HTTP 1.1",
        "HTTP/1.1x",
      ]
    ) {
      rejects("request", `GET / ${version}\r\nHost: x\r\n\r\n`, 400);
    }
  });

  it("rejects another well-formed version with 505", () => {
    for (const version of ["HTTP/2.0", "HTTP/3.0", "HTTP/1.2", "HTTP/0.9"]) {
      rejects(
        "request",
        `GET / ${version}\r\nHost: x\r\n\r\n`,
        505,
        /HTTP\/1\.1/,
      );
    }
  });

  it("requires one Host header in HTTP/1.1 and at most one in HTTP/1.0 (§3.2)", () => {
    rejects(
      "request",
      "GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
      400,
      /Host/,
    );
    rejects(
      "request",
      "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
      400,
      /Host/,
    );
    rejects(
      "request",
      "GET / HTTP/1.1\r\nhost: a\r\nHOST: a\r\n\r\n",
      400,
      /Host/,
    );
    rejects(
      "request",
      "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
      400,
      /Host/,
    );
    // An empty Host is present (RFC 9112 §3.2 allows it for some targets).
    assert.equal(
      requestHead("GET / HTTP/1.1\r\nHost:\r\n\r\n").headers.get("host"),
      "",
    );
    // Other fields that start like "Host" are not Host.
    const head = requestHead("GET / HTTP/1.1\r\nHost: a\r\nHosts: b\r\n\r\n");
    assert.equal(head.headers.get("hosts"), "b");
  });
});

describe("RFC 9112 §4: the status line", () => {
  it("accepts a reason phrase, an empty one, and none at all", () => {
    const cases: [string, number, string][] = [
      ["HTTP/1.1 101 Switching Protocols", 101, "Switching Protocols"],
      ["HTTP/1.1 101 ", 101, ""],
      ["HTTP/1.1 101", 101, ""],
      ["HTTP/1.0 200 OK", 200, "OK"],
      ["HTTP/1.1 404 Not\tFound  ", 404, "Not\tFound  "],
      ["HTTP/1.1 999 ", 999, ""],
      ["HTTP/1.1 100 Continue", 100, "Continue"],
      ["HTTP/1.1 200 Tr\xe8s bien \xff", 200, "Tr\xe8s bien \xff"],
    ];
    for (const [line, status, statusText] of cases) {
      const head = responseHead(`${line}\r\nA: b\r\n\r\n`);
      assert.equal(head.status, status);
      assert.equal(head.statusText, statusText);
      assert.equal(head.version, line.slice(0, 8));
      assert.equal(head.headers.get("a"), "b");
    }
  });

  it("rejects a malformed status line with 400", () => {
    for (
      const line of [
        "HTTP/1.1",
        "HTTP/1.1 ",
        "HTTP/1.1 99 Too small",
        "HTTP/1.1 099 Leading zero",
        "HTTP/1.1 1011 Four digits",
        "HTTP/1.1 10 ",
        "HTTP/1.1  101 Two spaces",
        "HTTP/1.1 abc Letters",
        "HTTP/1.1\t101 Tab",
        "HTTP/1.1 101\tTab",
        " HTTP/1.1 101 Leading space",
        "http/1.1 101 Lower case",
        "HTTP/1 101 Short version",
        "",
        "ICY 200 OK",
      ]
    ) {
      rejects("response", `${line}\r\n\r\n`, 400);
    }
  });

  it("rejects control characters in the reason phrase with 400", () => {
    for (const reason of ["O\x00K", "OK\x01", "O\x7fK", "\x1b[31mOK"]) {
      rejects("response", `HTTP/1.1 101 ${reason}\r\n\r\n`, 400);
    }
  });

  it("rejects another well-formed version with 505", () => {
    rejects("response", "HTTP/2.0 101 Switching Protocols\r\n\r\n", 505);
    rejects("response", "HTTP/0.9 200 OK\r\n\r\n", 505);
  });

  it("needs no Host header", () => {
    assert.equal(
      responseHead("HTTP/1.1 101\r\n\r\n").headers.has("host"),
      false,
    );
  });
});

describe("RFC 9112 §5: field lines", () => {
  it("strips optional whitespace around the value, keeps it inside", () => {
    const head = responseHead(
      "HTTP/1.1 200 OK\r\n" +
        "A:b\r\n" +
        "B: \t b  c \t \r\n" +
        "C:\r\n" +
        "D:   \r\n" +
        "E: a,b , c\r\n" +
        "\r\n",
    );
    assert.equal(head.headers.get("a"), "b");
    assert.equal(head.headers.get("b"), "b  c");
    assert.equal(head.headers.get("c"), "");
    assert.equal(head.headers.get("d"), "");
    assert.equal(head.headers.get("e"), "a,b , c");
  });

  it("matches names case-insensitively and accepts any token as a name", () => {
    const head = requestHead(
      "GET / HTTP/1.1\r\nhOsT: x\r\nX!#$%&'*+-.^_`|~9: v\r\n\r\n",
    );
    assert.equal(head.headers.get("Host"), "x");
    assert.equal(head.headers.get("x!#$%&'*+-.^_`|~9"), "v");
  });

  it("appends repeated fields and keeps Set-Cookie lines apart", () => {
    const head = responseHead(
      "HTTP/1.1 101 Switching Protocols\r\n" +
        "Sec-WebSocket-Extensions: a\r\n" +
        "Set-Cookie: a=1; Path=/\r\n" +
        "sec-websocket-extensions: b; x=1\r\n" +
        "Set-Cookie: b=2, c=3\r\n" +
        "\r\n",
    );
    assert.equal(head.headers.get("sec-websocket-extensions"), "a, b; x=1");
    assert.deepEqual(head.headers.getSetCookie(), [
      "a=1; Path=/",
      "b=2, c=3",
    ]);
  });

  it("decodes obs-text (0x80–0xFF) as latin1", () => {
    const head = requestHead(
      "GET / HTTP/1.1\r\nHost: x\r\nX-Name: Caf\xe9 \x80\xa0\xff\r\n\r\n",
    );
    assert.equal(head.headers.get("x-name"), "Caf\u00e9 \u0080\u00a0\u00ff");
  });

  it("rejects whitespace between the name and the colon with 400 (§5.1)", () => {
    rejects("request", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, /colon/);
    rejects(
      "request",
      "GET / HTTP/1.1\r\nHost: x\r\nA\t: b\r\n\r\n",
      400,
      /colon/,
    );
    rejects("response", "HTTP/1.1 101\r\nUpgrade : websocket\r\n\r\n", 400);
  });

  it("rejects obsolete line folding with 400 (§5.2)", () => {
    rejects(
      "request",
      "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n",
      400,
      /folding/,
    );
    rejects("request", "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n\tb\r\n\r\n", 400);
    // Whitespace before the first field line (§2.2) as well.
    rejects("request", "GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400);
    rejects("response", "HTTP/1.1 101\r\n\tA: b\r\n\r\n", 400);
  });

  it("rejects a field name that is not a token or is empty with 400", () => {
    for (
      const line of [
        ": x",
        "X(y): z",
        "X@: z",
        "X\x00: z",
        "X\x80: z",
        "Caf\xe9: z",
        'X"Y: z',
        "NoColon",
        "No Colon at all",
      ]
    ) {
      rejects("request", `GET / HTTP/1.1\r\nHost: x\r\n${line}\r\n\r\n`, 400);
    }
  });

  it("rejects NUL and other control characters in a value with 400", () => {
    for (
      const value of [
        "a\x00b",
        "\x00",
        "a\x01",
        "a\x08b",
        "a\x1fb",
        "a\x7fb",
        "a\x0bb",
        "a\x0cb",
      ]
    ) {
      rejects(
        "request",
        `GET / HTTP/1.1\r\nHost: x\r\nX: ${value}\r\n\r\n`,
        400,
        /control character/,
      );
      rejects("response", `HTTP/1.1 101\r\nX: ${value}\r\n\r\n`, 400);
    }
  });
});

describe("no backtracking: time linear in the input", () => {
  it("parses a 16 KiB head fed one byte at a time well under a second", () => {
    // Many short lines, and one long run of whitespace inside a value.
    let text = "GET / HTTP/1.1\r\nHost: x\r\n";
    for (let i = 0; text.length < 8000; i++) text += `X-${i}: ${i}\r\n`;
    text = text.slice(0, text.lastIndexOf("\r\n") + 2);
    const prefix = text + "X-Spaces: a";
    const suffix = "b\r\n\r\n";
    text = prefix +
      " ".repeat(DEFAULT_MAX_HEAD_SIZE - prefix.length - suffix.length) +
      suffix;
    assert.equal(text.length, DEFAULT_MAX_HEAD_SIZE);
    const data = concat(bytes(text), MASKED_HELLO);
    const parser = new RequestHeadParser({ maxHeaders: 1000 });
    const started = performance.now();
    let result: HeadResult<RequestHead> = { state: "incomplete" };
    for (let i = 0; i < data.length && result.state === "incomplete"; i++) {
      result = parser.push(data.subarray(i, i + 1));
    }
    const elapsed = performance.now() - started;
    const { head, rest } = expectDone(result);
    assert.ok(elapsed < 1000, `took ${elapsed} ms`);
    assert.equal(head.headers.get("x-0"), "0");
    assert.match(head.headers.get("x-spaces") ?? "", /^a +b$/);
    // Only the last byte of the head was in the last chunk pushed: the frame
    // bytes were never pushed, so rest is empty.
    assert.equal(rest.length, 0);
  });

  it("rejects a 16 KiB flood of spaces and colons quickly", () => {
    const started = performance.now();
    for (
      const text of [
        "GET / HTTP/1.1\r\nHost: x\r\nX: " + " ".repeat(DEFAULT_MAX_HEAD_SIZE),
        "GET / HTTP/1.1\r\nHost: x\r\n" + ":".repeat(DEFAULT_MAX_HEAD_SIZE),
        "GET " + "/".repeat(DEFAULT_MAX_HEAD_SIZE),
      ]
    ) {
      const parser = new RequestHeadParser();
      const data = bytes(text);
      let result: HeadResult<RequestHead> = { state: "incomplete" };
      for (let i = 0; i < data.length && result.state === "incomplete"; i++) {
        result = parser.push(data.subarray(i, i + 1));
      }
      expectError(result, 431);
    }
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 1000, `took ${elapsed} ms`);
  });
});

describe("serializeResponseHead / serializeRequestHead", () => {
  it("writes the RFC 6455 §1.2 response", () => {
    const data = serializeResponseHead(
      101,
      "Switching Protocols",
      new Headers({
        Upgrade: "websocket",
        Connection: "Upgrade",
        "Sec-WebSocket-Accept": "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
      }),
    );
    assert.ok(data instanceof Uint8Array);
    assert.equal(
      latin1(data),
      "HTTP/1.1 101 Switching Protocols\r\n" +
        "Connection: Upgrade\r\n" +
        "Sec-Websocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
        "Upgrade: websocket\r\n" +
        "\r\n",
    );
  });

  it("writes a record of fields in its own order, with the same checks (the server's own 101)", () => {
    const fields: Record<string, string> = Object.create(null);
    fields.upgrade = "websocket";
    fields.connection = "Upgrade";
    fields["sec-websocket-accept"] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
    fields["sec-websocket-protocol"] = "chat";
    const text = latin1(serializeResponseHead(101, "Switching Protocols", fields));
    assert.equal(
      text,
      "HTTP/1.1 101 Switching Protocols\r\n" +
        "Upgrade: websocket\r\n" +
        "Connection: Upgrade\r\n" +
        "Sec-Websocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
        "Sec-Websocket-Protocol: chat\r\n" +
        "\r\n",
    );
    // What the parser reads back is what was given.
    const parsed = new ResponseHeadParser().push(new TextEncoder().encode(text));
    assert.equal(parsed.state, "done");
    if (parsed.state === "done") assert.equal(parsed.head.headers.get("sec-websocket-protocol"), "chat");
    // No injection through a record either.
    assert.throws(() => serializeResponseHead(101, "", { "x-a": "1\r\nX-Injected: 2" }), TypeError);
    assert.throws(() => serializeResponseHead(101, "", { "bad name": "1" }), TypeError);
  });

  it("writes the server's own 101 from prebuilt bytes exactly as the general path, and only for that shape", () => {
    const record = (pairs: Array<[string, string]>): Record<string, string> => {
      const fields: Record<string, string> = Object.create(null);
      for (const [name, value] of pairs) fields[name] = value;
      return fields;
    };
    const accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
    const own: Array<[string, string]> = [["upgrade", "websocket"], ["connection", "Upgrade"], [
      "sec-websocket-accept",
      accept,
    ]];
    // The general path: the same fields as a Headers in the same order of names (sorted by Headers: a 2nd check).
    const general = (pairs: Array<[string, string]>) =>
      "HTTP/1.1 101 Switching Protocols\r\n" +
      pairs.map(([n, v]) => `${n.replace(/(^|-)([a-z])/g, (_, d, c) => d + c.toUpperCase())}: ${v}\r\n`).join("") +
      "\r\n";
    for (
      const extra of [
        [],
        [["sec-websocket-protocol", "chat"]],
        [["sec-websocket-protocol", "chat"], [
          "sec-websocket-extensions",
          "permessage-deflate; client_max_window_bits=10",
        ]],
      ] as Array<Array<[string, string]>>
    ) {
      const text = latin1(serializeResponseHead(101, "Switching Protocols", record([...own, ...extra])));
      assert.equal(text, general([...own, ...extra]));
    }
    // Any other shape is written the general way, checked as before: other order, other values, a bad key.
    const reordered: Array<[string, string]> = [own[1], own[0], own[2]];
    assert.equal(latin1(serializeResponseHead(101, "Switching Protocols", record(reordered))), general(reordered));
    const lower: Array<[string, string]> = [own[0], ["connection", "upgrade"], own[2]];
    assert.equal(latin1(serializeResponseHead(101, "Switching Protocols", record(lower))), general(lower));
    for (const bad of [accept.slice(1), accept.slice(0, 27) + "A", accept.slice(0, 26) + "\r=", "x".repeat(28)]) {
      const pairs: Array<[string, string]> = [own[0], own[1], ["sec-websocket-accept", bad]];
      if (bad.includes("\r")) {
        assert.throws(() => serializeResponseHead(101, "Switching Protocols", record(pairs)), TypeError);
      } else assert.equal(latin1(serializeResponseHead(101, "Switching Protocols", record(pairs))), general(pairs));
    }
    // What follows the accept key is checked as any field.
    assert.throws(
      () => serializeResponseHead(101, "Switching Protocols", record([...own, ["x-a", "1\r\nX-Injected: 2"]])),
      TypeError,
    );
  });

  it("writes a request head", () => {
    const data = serializeRequestHead(
      "GET",
      "/chat?x=1",
      new Headers({ Host: "example.com", "sec-websocket-version": "13" }),
    );
    assert.equal(
      latin1(data),
      "GET /chat?x=1 HTTP/1.1\r\nHost: example.com\r\nSec-Websocket-Version: 13\r\n\r\n",
    );
  });

  it("spells names the same way however many different names it has seen (its cache is bounded)", () => {
    for (let i = 0; i < 700; i++) {
      const head = latin1(serializeResponseHead(200, "OK", new Headers([[`x-name-${i}-end`, "v"], ["x-same", "w"]])));
      assert.equal(head, `HTTP/1.1 200 OK\r\nX-Name-${i}-End: v\r\nX-Same: w\r\n\r\n`);
    }
  });

  it("writes the space before an empty reason, and no header lines for none", () => {
    assert.equal(
      latin1(serializeResponseHead(101, "", new Headers())),
      "HTTP/1.1 101 \r\n\r\n",
    );
  });

  it("round-trips responses through ResponseHeadParser", () => {
    const headers = new Headers();
    headers.append("Upgrade", "websocket");
    headers.append("Set-Cookie", "a=1; Path=/");
    headers.append("Set-Cookie", "b=2, c=3");
    headers.append("X-Repeated", "1");
    headers.append("X-Repeated", "2");
    headers.append("X-Latin1", "Caf\u00e9 \u00ff\tend");
    headers.append("X-Empty", "");
    for (
      const [status, text] of [[101, "Switching Protocols"], [426, ""], [
        999,
        "Tr\u00e8s \t bien",
      ]] as const
    ) {
      const data = serializeResponseHead(status, text, headers);
      const head = responseHead(latin1(data));
      assert.equal(head.status, status);
      assert.equal(head.statusText, text);
      assert.equal(head.version, "HTTP/1.1");
      assert.deepEqual([...head.headers], [...headers]);
      assert.deepEqual(head.headers.getSetCookie(), [
        "a=1; Path=/",
        "b=2, c=3",
      ]);
      assert.equal(latin1(data).split("Set-Cookie: ").length - 1, 2);
    }
  });

  it("round-trips requests through RequestHeadParser", () => {
    const headers = new Headers({
      Host: "server.example.com",
      Upgrade: "websocket",
      Connection: "Upgrade",
      "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version": "13",
      "X-Latin1": "\u00a0\u00ff",
    });
    for (
      const [method, target] of [["GET", "/chat"], ["M-SEARCH", "*"], [
        "CONNECT",
        "example.com:443",
      ]]
    ) {
      const data = serializeRequestHead(method, target, headers);
      const head = requestHead(latin1(data));
      assert.equal(head.method, method);
      assert.equal(head.target, target);
      assert.equal(head.version, "HTTP/1.1");
      assert.deepEqual([...head.headers], [...headers]);
    }
  });

  it("writes one line per cookie even for a Headers-like object without getSetCookie", () => {
    const data = serializeResponseHead(
      200,
      "OK",
      fakeHeaders([["set-cookie", "a=1"], ["set-cookie", "b=2"]]),
    );
    assert.equal(
      latin1(data),
      "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n",
    );
  });

  it("rejects a status outside 100–999 or not an integer", () => {
    for (const status of [99, 0, -101, 1000, 101.5, NaN, Infinity]) {
      assert.throws(
        () => serializeResponseHead(status, "OK", new Headers()),
        {
          name: "TypeError",
          message: /status must be an integer from 100 to 999/,
        },
      );
    }
    assert.throws(
      () => serializeResponseHead("101" as unknown as number, "OK", new Headers()),
      TypeError,
    );
  });

  it("rejects CR, LF, NUL, other controls and non-latin1 in the reason", () => {
    for (
      const text of [
        "OK\r\nSet-Cookie: evil=1",
        "OK\nX: y",
        "OK\rX",
        "O\x00K",
        "O\x01K",
        "O\x7fK",
        "\u0100",
        "\u{1F600}",
      ]
    ) {
      assert.throws(
        () => serializeResponseHead(200, text, new Headers()),
        { name: "TypeError", message: /status text/ },
      );
    }
  });

  it("rejects a method that is not a token and a bad target", () => {
    for (const method of ["", "G T", "GET\r\nX: y", "G\u00e9T", "GET\x00"]) {
      assert.throws(
        () => serializeRequestHead(method, "/", new Headers({ Host: "x" })),
        { name: "TypeError", message: /method must be a token/ },
      );
    }
    for (
      const target of [
        "",
        "/a b",
        "/a\r\nX-Injected: 1",
        "/a\n",
        "/\x00",
        "/caf\u00e9",
        "/\x7f",
        "/\u2028",
      ]
    ) {
      assert.throws(
        () => serializeRequestHead("GET", target, new Headers({ Host: "x" })),
        { name: "TypeError", message: /target must be/ },
      );
    }
  });

  it("makes header injection through names impossible", () => {
    for (
      const name of [
        "X-A\r\nX-Injected",
        "X-A\nB",
        "X A",
        "X:A",
        "",
        "X\x00",
        "X\u00e9",
        "X\u0100",
      ]
    ) {
      for (
        const serialize of [
          (h: Headers) => serializeResponseHead(101, "OK", h),
          (h: Headers) => serializeRequestHead("GET", "/", h),
        ]
      ) {
        assert.throws(
          () => serialize(fakeHeaders([["Host", "x"], [name, "v"]])),
          { name: "TypeError", message: /header name .* is not a token/ },
        );
      }
    }
  });

  it("makes header injection through values impossible", () => {
    const values = [
      "a\r\nX-Injected: 1",
      "a\r\n\r\nHTTP/1.1 200 OK",
      "a\nb",
      "a\rb",
      "a\x00b",
      "a\x01b",
      "a\x7f",
      "\u0100",
      "\u{1F600}",
    ];
    for (const value of values) {
      for (
        const serialize of [
          (h: Headers) => serializeResponseHead(101, "OK", h),
          (h: Headers) => serializeRequestHead("GET", "/", h),
        ]
      ) {
        assert.throws(
          () => serialize(fakeHeaders([["X-Value", value]])),
          { name: "TypeError", message: /value of header "X-Value"/ },
        );
        assert.throws(
          () => serialize(fakeHeaders([["Set-Cookie", value]])),
          TypeError,
        );
      }
    }
    // A real Headers accepts \x01 (only NUL, CR and LF are barred by Fetch):
    // the serializer still refuses what the parser would refuse.
    const headers = new Headers({ "X-Ctl": "a\x01b" });
    assert.throws(
      () => serializeResponseHead(101, "OK", headers),
      TypeError,
    );
  });
});
