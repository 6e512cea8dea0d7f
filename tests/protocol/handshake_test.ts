import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  computeAcceptKey,
  createClientRequestHeaders,
  createServerResponseFields,
  createServerResponseHeaders,
  generateKey,
  hasToken,
  isToken,
  isValidKey,
  isWebSocketRequest,
  parseTokenList,
  type RequestCheck,
  type ResponseCheck,
  selectProtocol,
  validateRequest,
  validateResponse,
  WEBSOCKET_GUID,
} from "../../src/protocol/handshake.ts";

// RFC 6455 §1.3 / §4.2.2: the sample key and its accept value.
const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

function requestHeaders(
  overrides: Record<string, string | null> = {},
): Headers {
  const base: Record<string, string | null> = {
    Host: "server.example.com",
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": KEY,
    "Sec-WebSocket-Version": "13",
    ...overrides,
  };
  const headers = new Headers();
  for (const [name, value] of Object.entries(base)) {
    if (value !== null) headers.set(name, value);
  }
  return headers;
}

function responseHeaders(
  overrides: Record<string, string | null> = {},
): Headers {
  const base: Record<string, string | null> = {
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Accept": ACCEPT,
    ...overrides,
  };
  const headers = new Headers();
  for (const [name, value] of Object.entries(base)) {
    if (value !== null) headers.set(name, value);
  }
  return headers;
}

function expectRejected(
  check: RequestCheck,
  status: number,
  messagePart: string,
): Headers {
  assert.equal(check.ok, false, "expected the request to be rejected");
  if (check.ok) throw new Error("unreachable");
  assert.equal(check.status, status);
  assert.ok(
    check.message.includes(messagePart),
    `message ${JSON.stringify(check.message)} should mention ${messagePart}`,
  );
  return check.headers;
}

function expectFailed(check: ResponseCheck, messagePart: string): void {
  assert.equal(check.ok, false, "expected the response to be refused");
  if (check.ok) throw new Error("unreachable");
  assert.ok(
    check.message.includes(messagePart),
    `message ${JSON.stringify(check.message)} should mention ${messagePart}`,
  );
}

describe("RFC 6455 §1.3: Sec-WebSocket-Accept", () => {
  it("exports the GUID", () => {
    assert.equal(WEBSOCKET_GUID, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
  });

  it("computes the RFC example accept key", () => {
    assert.equal(computeAcceptKey(KEY), ACCEPT);
  });

  it("matches crypto.subtle for generated keys", async () => {
    for (let i = 0; i < 20; i++) {
      const key = generateKey();
      const digest = await crypto.subtle.digest(
        "SHA-1",
        new TextEncoder().encode(key + WEBSOCKET_GUID),
      );
      const expected = btoa(String.fromCharCode(...new Uint8Array(digest)));
      assert.equal(computeAcceptKey(key), expected);
    }
  });
});

describe("RFC 6455 §4.1: Sec-WebSocket-Key", () => {
  it("generates valid, distinct keys of 16 bytes", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const key = generateKey();
      assert.equal(key.length, 24);
      assert.ok(isValidKey(key), key);
      assert.equal(atob(key).length, 16);
      seen.add(key);
    }
    assert.equal(seen.size, 100);
  });

  it("accepts the RFC example key and the extremes of the alphabet", () => {
    assert.ok(isValidKey(KEY));
    assert.ok(isValidKey("AAAAAAAAAAAAAAAAAAAAAA=="));
    assert.ok(isValidKey("/////////////////////w=="));
    assert.ok(isValidKey("+++++++++++++++++++++w=="));
  });

  it("rejects keys that are not the base64 of 16 bytes", () => {
    for (
      const key of [
        "",
        "dGhlIHNhbXBsZSBub25jZQ", // no padding
        "dGhlIHNhbXBsZSBub25jZQ=", // one pad only
        "dGhlIHNhbXBsZSBub25jZQ===", // 25 characters
        " dGhlIHNhbXBsZSBub25jZQ==", // whitespace
        "dGhlIHNhbXBsZSBub25jZ===", // pad too early
        "dGhlIHNhbXBsZSBub25jZQ==\n",
        "dGhlIHNhbXBsZSBub25jZ-==", // base64url alphabet
        "dGhlIHNhbXBsZSBub25j_Q==",
        "dGhlIHNhbXBsZSBub25jZQAA", // 18 bytes
        "YWJjZGVmZ2hpamtsbW5vcHFyc3Q=", // 20 bytes
        "dGhlIHNhbXBsZSBub25jZ\u00e9==", // non-ASCII
      ]
    ) {
      assert.equal(isValidKey(key), false, JSON.stringify(key));
    }
  });
});

describe("RFC 7230 §3.2.6: tokens", () => {
  it("accepts every tchar", () => {
    assert.ok(isToken("!#$%&'*+-.^_`|~"));
    assert.ok(isToken("0123456789"));
    assert.ok(isToken("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"));
    assert.ok(isToken("chat.example.com"));
  });

  it("rejects separators, controls, non-ASCII and the empty string", () => {
    for (const s of ["", " ", "a b", "a,b", "a;b", 'a"b', "a/b", "(a)"]) {
      assert.equal(isToken(s), false, JSON.stringify(s));
    }
    for (const c of '()<>@,;:\\"/[]?={} \t\x00\x7f\u00e9\u{1F600}') {
      assert.equal(isToken(`a${c}`), false, JSON.stringify(c));
    }
  });
});

describe("RFC 7230 §7: #token lists", () => {
  it("parses null and the empty string as empty lists", () => {
    assert.deepEqual(parseTokenList(null), []);
    assert.deepEqual(parseTokenList(""), []);
  });

  it("splits on commas and trims spaces and tabs", () => {
    assert.deepEqual(parseTokenList("a"), ["a"]);
    assert.deepEqual(parseTokenList("a,b"), ["a", "b"]);
    assert.deepEqual(parseTokenList("a, b"), ["a", "b"]);
    assert.deepEqual(parseTokenList(" a ,\tb\t, c "), ["a", "b", "c"]);
    assert.deepEqual(parseTokenList("\t \ta\t \t"), ["a"]);
  });

  it("skips empty elements", () => {
    assert.deepEqual(parseTokenList(","), []);
    assert.deepEqual(parseTokenList(" , ,\t,"), []);
    assert.deepEqual(parseTokenList(",a,,b,"), ["a", "b"]);
    assert.deepEqual(parseTokenList("a , , b"), ["a", "b"]);
  });

  it("keeps inner whitespace and case, for isToken to judge", () => {
    assert.deepEqual(parseTokenList("a b, C"), ["a b", "C"]);
    assert.equal(isToken(parseTokenList("a b")[0]), false);
  });

  it("parses a 100 000-character header of spaces and commas in linear time", () => {
    const hostile = " ,\t".repeat(33_334).slice(0, 100_000);
    assert.equal(hostile.length, 100_000);
    const start = performance.now();
    assert.deepEqual(parseTokenList(hostile), []);
    assert.deepEqual(parseTokenList(hostile + "a" + hostile), ["a"]);
    assert.equal(hasToken(hostile, "upgrade"), false);
    const longSpaces = "a" + " ".repeat(100_000) + "b";
    assert.deepEqual(parseTokenList(longSpaces), [longSpaces]);
    assert.ok(performance.now() - start < 1000);
  });

  it("matches tokens case-insensitively with hasToken", () => {
    assert.ok(hasToken("keep-alive, Upgrade", "upgrade"));
    assert.ok(hasToken("UPGRADE", "upgrade"));
    assert.ok(hasToken("upgrade", "Upgrade"));
    assert.ok(hasToken("keep-alive,\tupgrade\t", "UPGRADE"));
    assert.equal(hasToken("keep-alive", "upgrade"), false);
    assert.equal(hasToken("upgrades", "upgrade"), false);
    assert.equal(hasToken("up grade", "upgrade"), false);
    assert.equal(hasToken("", "upgrade"), false);
    assert.equal(hasToken(null, "upgrade"), false);
    // Elements anywhere in the list, empty ones skipped; the same answer as a search of parseTokenList's elements.
    assert.ok(hasToken(" , a,b , ,WebSocket ,", "websocket"));
    assert.equal(hasToken("websocket2, xwebsocket, web socket", "websocket"), false);
    for (const value of ["a, websocket", "websocket,", ",websocket", "Web,Socket", "  ", "h2c, WEBSOCKET\t"]) {
      const expected = parseTokenList(value).some((e) => e.length === 9 && /^websocket$/i.test(e));
      assert.equal(hasToken(value, "websocket"), expected, JSON.stringify(value));
    }
    // ASCII case only (RFC 9110 §5.6.2): the Kelvin sign (U+212A) lower-cases to "k" in Unicode, not here.
    assert.equal(hasToken("websoc\u212Aet", "websocket"), false);
  });
});

describe("RFC 6455 §4.2.1: reading the client's opening handshake", () => {
  it("accepts the RFC example request", () => {
    const check = validateRequest(
      "GET",
      requestHeaders({
        Origin: "http://example.com",
        "Sec-WebSocket-Protocol": "chat, superchat",
      }),
    );
    assert.deepEqual(check, {
      ok: true,
      key: KEY,
      protocols: ["chat", "superchat"],
      extensions: null,
    });
  });

  it("accepts mixed case and list values in Upgrade and Connection", () => {
    const check = validateRequest(
      "GET",
      requestHeaders({
        Upgrade: "WebSocket",
        Connection: "keep-alive, UPGRADE",
      }),
    );
    assert.equal(check.ok, true);
  });

  it("accepts Connection split over several header lines", () => {
    const headers = requestHeaders({ Connection: "keep-alive" });
    headers.append("Connection", "Upgrade");
    assert.equal(validateRequest("GET", headers).ok, true);
  });

  it("reports no protocols and passes the raw extensions header", () => {
    const check = validateRequest(
      "GET",
      requestHeaders({
        "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
      }),
    );
    assert.deepEqual(check, {
      ok: true,
      key: KEY,
      protocols: [],
      extensions: "permessage-deflate; client_max_window_bits",
    });
  });

  it("joins protocols from several header lines and skips empty elements", () => {
    const headers = requestHeaders({ "Sec-WebSocket-Protocol": "a, ,b" });
    headers.append("Sec-WebSocket-Protocol", "c");
    const check = validateRequest("GET", headers);
    assert.equal(check.ok, true);
    if (check.ok) assert.deepEqual(check.protocols, ["a", "b", "c"]);
  });

  it("refuses other methods with 405 and Allow: GET", () => {
    for (const method of ["POST", "HEAD", "PUT", "get", "CONNECT"]) {
      const headers = expectRejected(
        validateRequest(method, requestHeaders()),
        405,
        "GET",
      );
      assert.equal(headers.get("allow"), "GET");
    }
  });

  it("refuses a missing or wrong Upgrade header with 400", () => {
    for (const upgrade of [null, "", "h2c", "websockets", "web socket"]) {
      const headers = expectRejected(
        validateRequest("GET", requestHeaders({ Upgrade: upgrade })),
        400,
        "Upgrade header",
      );
      assert.equal([...headers].length, 0);
    }
  });

  it("refuses a missing or wrong Connection header with 400", () => {
    for (const connection of [null, "", "keep-alive", "close", "upgraded"]) {
      expectRejected(
        validateRequest("GET", requestHeaders({ Connection: connection })),
        400,
        "Connection header",
      );
    }
  });

  it("never accepts a missing Sec-WebSocket-Key (the seed's defect)", () => {
    expectRejected(
      validateRequest("GET", requestHeaders({ "Sec-WebSocket-Key": null })),
      400,
      "Missing or invalid Sec-WebSocket-Key header: expected the base64 of 16 bytes",
    );
  });

  it("refuses an invalid Sec-WebSocket-Key with 400", () => {
    for (const key of ["", "abc", "dGhlIHNhbXBsZSBub25jZQ", "x".repeat(24)]) {
      expectRejected(
        validateRequest("GET", requestHeaders({ "Sec-WebSocket-Key": key })),
        400,
        "Sec-WebSocket-Key",
      );
    }
  });

  it("refuses two Sec-WebSocket-Key header lines with 400", () => {
    const headers = requestHeaders();
    headers.append("Sec-WebSocket-Key", KEY);
    expectRejected(validateRequest("GET", headers), 400, "Sec-WebSocket-Key");
  });

  it("refuses a missing Sec-WebSocket-Version with 400", () => {
    const headers = expectRejected(
      validateRequest("GET", requestHeaders({ "Sec-WebSocket-Version": null })),
      400,
      "Missing Sec-WebSocket-Version",
    );
    assert.equal(headers.get("sec-websocket-version"), null);
  });

  it("§4.4: refuses other versions with 426 and Sec-WebSocket-Version: 13", () => {
    for (const version of ["8", "12", "14", "", "13, 8", "013", "thirteen"]) {
      const headers = expectRejected(
        validateRequest(
          "GET",
          requestHeaders({ "Sec-WebSocket-Version": version }),
        ),
        426,
        "Sec-WebSocket-Version",
      );
      assert.equal(headers.get("sec-websocket-version"), "13");
    }
  });

  it("refuses a subprotocol that is not a token with 400", () => {
    for (const value of ["chat, super chat", "a/b", 'x, "y"', "a;b"]) {
      expectRejected(
        validateRequest(
          "GET",
          requestHeaders({ "Sec-WebSocket-Protocol": value }),
        ),
        400,
        "not a valid token",
      );
    }
  });

  it("refuses a subprotocol offered twice with 400", () => {
    expectRejected(
      validateRequest(
        "GET",
        requestHeaders({ "Sec-WebSocket-Protocol": "chat, superchat, chat" }),
      ),
      400,
      "more than once",
    );
  });

  it("treats subprotocols as case-sensitive strings", () => {
    const check = validateRequest(
      "GET",
      requestHeaders({ "Sec-WebSocket-Protocol": "chat, Chat" }),
    );
    assert.equal(check.ok, true);
    if (check.ok) assert.deepEqual(check.protocols, ["chat", "Chat"]);
  });

  it("checks in the RFC's order: method before headers", () => {
    const headers = new Headers();
    expectRejected(validateRequest("POST", headers), 405, "GET");
    expectRejected(validateRequest("GET", headers), 400, "Upgrade");
  });

  it("quotes long values briefly in messages", () => {
    const check = validateRequest(
      "GET",
      requestHeaders({ Upgrade: "x".repeat(10_000) }),
    );
    assert.equal(check.ok, false);
    if (!check.ok) assert.ok(check.message.length < 300);
  });
});

describe("RFC 6455 §4.2.2: choosing a subprotocol", () => {
  it("picks the client's first choice that the server accepts", () => {
    assert.equal(selectProtocol(["v2", "v1"], ["v1", "v2"]), "v2");
    assert.equal(selectProtocol(["v3", "v1"], ["v1", "v2"]), "v1");
  });

  it("returns null when nothing is shared", () => {
    assert.equal(selectProtocol(["v3"], ["v1"]), null);
    assert.equal(selectProtocol([], ["v1"]), null);
    assert.equal(selectProtocol(["v1"], []), null);
  });

  it("compares case-sensitively", () => {
    assert.equal(selectProtocol(["Chat"], ["chat"]), null);
  });
});

describe("RFC 6455 §4.2.2: the server's opening handshake", () => {
  it("createServerResponseFields: the same headers as a record without prototype, lower-case names", () => {
    const fields = createServerResponseFields(KEY, "chat", "permessage-deflate");
    assert.equal(Object.getPrototypeOf(fields), null);
    assert.deepEqual({ ...fields }, {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-accept": "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
      "sec-websocket-protocol": "chat",
      "sec-websocket-extensions": "permessage-deflate",
    });
    assert.deepEqual(
      [...new Headers(fields)],
      [...createServerResponseHeaders(KEY, "chat", undefined, "permessage-deflate")],
    );
    assert.deepEqual(Object.keys(createServerResponseFields(KEY, null)), [
      "upgrade",
      "connection",
      "sec-websocket-accept",
    ]);
    assert.throws(() => createServerResponseFields("nope", null), TypeError);
    assert.throws(() => createServerResponseFields(KEY, "two words"), TypeError);
  });

  it("builds the RFC example response", () => {
    const headers = createServerResponseHeaders(KEY, "chat");
    assert.equal(headers.get("upgrade"), "websocket");
    assert.equal(headers.get("connection"), "Upgrade");
    assert.equal(headers.get("sec-websocket-accept"), ACCEPT);
    assert.equal(headers.get("sec-websocket-protocol"), "chat");
  });

  it("omits Sec-WebSocket-Protocol when none was chosen", () => {
    const headers = createServerResponseHeaders(KEY, null);
    assert.equal(headers.has("sec-websocket-protocol"), false);
    assert.deepEqual([...headers.keys()].sort(), [
      "connection",
      "sec-websocket-accept",
      "upgrade",
    ]);
  });

  it("adds additional headers in every HeadersInit form", () => {
    for (
      const extra of [
        { "X-Powered-By": "wsd" },
        [["X-Powered-By", "wsd"]] as [string, string][],
        new Headers({ "X-Powered-By": "wsd" }),
      ]
    ) {
      const headers = createServerResponseHeaders(KEY, null, extra);
      assert.equal(headers.get("x-powered-by"), "wsd");
      assert.equal(headers.get("sec-websocket-accept"), ACCEPT);
    }
  });

  it("keeps several Set-Cookie headers", () => {
    const headers = createServerResponseHeaders(KEY, null, [
      ["Set-Cookie", "a=1"],
      ["Set-Cookie", "b=2"],
    ]);
    assert.deepEqual(headers.getSetCookie(), ["a=1", "b=2"]);
  });

  it("refuses additional headers that override the handshake", () => {
    for (
      const name of [
        "Upgrade",
        "Connection",
        "Sec-WebSocket-Accept",
        "Sec-WebSocket-Protocol",
        "Sec-WebSocket-Extensions",
        "sec-websocket-accept",
        "CONNECTION",
      ]
    ) {
      assert.throws(
        () => createServerResponseHeaders(KEY, null, { [name]: "x" }),
        (error: unknown) => {
          assert.ok(error instanceof TypeError);
          assert.ok(
            error.message.toLowerCase().includes(name.toLowerCase()),
            error.message,
          );
          return true;
        },
      );
    }
  });

  it("refuses an invalid key or protocol from the caller", () => {
    assert.throws(() => createServerResponseHeaders("nope", null), TypeError);
    assert.throws(() => createServerResponseHeaders(KEY, "a b"), TypeError);
    assert.throws(() => createServerResponseHeaders(KEY, ""), TypeError);
  });
});

describe("RFC 6455 §4.1: the client's opening handshake", () => {
  it("builds the RFC example request", () => {
    const headers = createClientRequestHeaders({
      host: "server.example.com",
      key: KEY,
      protocols: ["chat", "superchat"],
    });
    assert.equal(headers.get("host"), "server.example.com");
    assert.equal(headers.get("upgrade"), "websocket");
    assert.equal(headers.get("connection"), "Upgrade");
    assert.equal(headers.get("sec-websocket-key"), KEY);
    assert.equal(headers.get("sec-websocket-version"), "13");
    assert.equal(headers.get("sec-websocket-protocol"), "chat, superchat");
  });

  it("omits Sec-WebSocket-Protocol when none are offered", () => {
    for (const protocols of [undefined, []]) {
      const headers = createClientRequestHeaders({
        host: "h",
        key: KEY,
        protocols,
      });
      assert.equal(headers.has("sec-websocket-protocol"), false);
    }
  });

  it("produces a request that validateRequest accepts", () => {
    const headers = createClientRequestHeaders({
      host: "localhost:5000",
      key: generateKey(),
      protocols: ["a", "b"],
      additionalHeaders: { Origin: "http://localhost" },
    });
    const check = validateRequest("GET", headers);
    assert.equal(check.ok, true);
    if (check.ok) assert.deepEqual(check.protocols, ["a", "b"]);
    assert.equal(headers.get("origin"), "http://localhost");
  });

  it("lets additional headers replace Host", () => {
    const headers = createClientRequestHeaders({
      host: "10.0.0.1:8080",
      key: KEY,
      additionalHeaders: { Host: "example.com" },
    });
    assert.equal(headers.get("host"), "example.com");
  });

  it("refuses invalid or duplicate protocols", () => {
    for (const protocols of [["a b"], [""], ["a,b"], ["chat", "chat"]]) {
      assert.throws(
        () => createClientRequestHeaders({ host: "h", key: KEY, protocols }),
        TypeError,
        JSON.stringify(protocols),
      );
    }
  });

  it("refuses an invalid key or an empty host", () => {
    assert.throws(
      () => createClientRequestHeaders({ host: "h", key: "short" }),
      TypeError,
    );
    assert.throws(
      () => createClientRequestHeaders({ host: "", key: KEY }),
      TypeError,
    );
  });

  it("refuses additional headers that override the handshake", () => {
    for (
      const name of [
        "Upgrade",
        "Connection",
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Protocol",
        "Sec-WebSocket-Extensions",
        "Sec-WebSocket-Accept",
      ]
    ) {
      assert.throws(
        () =>
          createClientRequestHeaders({
            host: "h",
            key: KEY,
            additionalHeaders: [[name, "x"]],
          }),
        (error: unknown) => {
          assert.ok(error instanceof TypeError);
          assert.ok(error.message.includes(name), error.message);
          return true;
        },
      );
    }
  });
});

describe("RFC 6455 §4.1: reading the server's opening handshake", () => {
  const expected = { key: KEY, protocols: ["chat", "superchat"] };

  it("accepts the RFC example response", () => {
    assert.deepEqual(
      validateResponse(
        101,
        responseHeaders({ "Sec-WebSocket-Protocol": "chat" }),
        expected,
      ),
      { ok: true, protocol: "chat", extensions: null },
    );
  });

  it("accepts a response without a subprotocol", () => {
    assert.deepEqual(validateResponse(101, responseHeaders(), expected), {
      ok: true,
      protocol: null,
      extensions: null,
    });
  });

  it("accepts mixed case and lists in Upgrade and Connection", () => {
    const check = validateResponse(
      101,
      responseHeaders({
        Upgrade: "WEBSOCKET",
        Connection: "keep-alive, upgrade",
      }),
      expected,
    );
    assert.equal(check.ok, true);
  });

  it("accepts a response built by createServerResponseHeaders", () => {
    const key = generateKey();
    const check = validateResponse(
      101,
      createServerResponseHeaders(key, "superchat"),
      { key, protocols: ["chat", "superchat"] },
    );
    assert.deepEqual(check, {
      ok: true,
      protocol: "superchat",
      extensions: null,
    });
  });

  it("fails on a status other than 101, naming it", () => {
    for (const status of [200, 400, 404, 426, 500]) {
      expectFailed(
        validateResponse(status, responseHeaders(), expected),
        `Unexpected response status ${status}: expected 101 Switching Protocols`,
      );
    }
  });

  it("fails on a missing or wrong Upgrade header", () => {
    for (const upgrade of [null, "", "h2c", "websockets"]) {
      expectFailed(
        validateResponse(101, responseHeaders({ Upgrade: upgrade }), expected),
        "Upgrade header",
      );
    }
  });

  it("fails on a missing or wrong Connection header", () => {
    for (const connection of [null, "", "keep-alive", "close"]) {
      expectFailed(
        validateResponse(
          101,
          responseHeaders({ Connection: connection }),
          expected,
        ),
        "Connection header",
      );
    }
  });

  it("fails on a missing or wrong Sec-WebSocket-Accept", () => {
    for (
      const accept of [
        null,
        "",
        computeAcceptKey(generateKey()),
        ACCEPT.toLowerCase(),
        `${ACCEPT}, ${ACCEPT}`,
        KEY,
      ]
    ) {
      expectFailed(
        validateResponse(
          101,
          responseHeaders({ "Sec-WebSocket-Accept": accept }),
          expected,
        ),
        "Sec-WebSocket-Accept",
      );
    }
  });

  it("fails when the server picks a protocol the client did not offer", () => {
    expectFailed(
      validateResponse(
        101,
        responseHeaders({ "Sec-WebSocket-Protocol": "other" }),
        expected,
      ),
      "did not offer",
    );
    expectFailed(
      validateResponse(
        101,
        responseHeaders({ "Sec-WebSocket-Protocol": "chat" }),
        { key: KEY, protocols: [] },
      ),
      "did not offer",
    );
    expectFailed(
      validateResponse(
        101,
        responseHeaders({ "Sec-WebSocket-Protocol": "CHAT" }),
        expected,
      ),
      "did not offer",
    );
  });

  it("fails when the server sends several protocols or an empty one", () => {
    for (const value of ["chat, superchat", "chat, chat", "", " , "]) {
      expectFailed(
        validateResponse(
          101,
          responseHeaders({ "Sec-WebSocket-Protocol": value }),
          expected,
        ),
        "Sec-WebSocket-Protocol",
      );
    }
    const headers = responseHeaders({ "Sec-WebSocket-Protocol": "chat" });
    headers.append("Sec-WebSocket-Protocol", "superchat");
    expectFailed(
      validateResponse(101, headers, expected),
      "expected one subprotocol",
    );
  });

  it("fails on any extension when none was offered", () => {
    expectFailed(
      validateResponse(
        101,
        responseHeaders({ "Sec-WebSocket-Extensions": "permessage-deflate" }),
        expected,
      ),
      "permessage-deflate",
    );
  });

  it("fails on an extension that was not offered", () => {
    expectFailed(
      validateResponse(
        101,
        responseHeaders({
          "Sec-WebSocket-Extensions": "permessage-deflate, x-webkit; a=1",
        }),
        { ...expected, extensions: ["permessage-deflate"] },
      ),
      "x-webkit",
    );
    expectFailed(
      validateResponse(
        101,
        responseHeaders({ "Sec-WebSocket-Extensions": "; a=1" }),
        { ...expected, extensions: ["permessage-deflate"] },
      ),
      "Sec-WebSocket-Extensions",
    );
  });

  it("accepts offered extensions and returns the raw header", () => {
    const value = 'permessage-deflate; server_no_context_takeover; x="a,b", permessage-deflate';
    assert.deepEqual(
      validateResponse(
        101,
        responseHeaders({ "Sec-WebSocket-Extensions": value }),
        { ...expected, extensions: ["permessage-deflate"] },
      ),
      { ok: true, protocol: null, extensions: value },
    );
  });

  it("fails on an extensions header that breaks the RFC 6455 §9.1 grammar", () => {
    for (
      const value of [
        'permessage-deflate; x="a', // unclosed quoted string
        'permessage-deflate; x="a\\', // a backslash that escapes nothing
        "permessage-deflate; =1", // a parameter without a name
        "permessage-deflate; a b", // two tokens in a row
        "permessage-deflate x", // no ";" or "," between the name and a token
        "permessage-deflate; x=", // "=" without a value
      ]
    ) {
      expectFailed(
        validateResponse(
          101,
          responseHeaders({ "Sec-WebSocket-Extensions": value }),
          { ...expected, extensions: ["permessage-deflate"] },
        ),
        "is not a list of extensions",
      );
    }
  });

  it("does not split extensions on commas inside quoted strings", () => {
    const value = 'permessage-deflate; x="a, b", permessage-deflate; y="\\", c"';
    assert.deepEqual(
      validateResponse(
        101,
        responseHeaders({ "Sec-WebSocket-Extensions": value }),
        { ...expected, extensions: ["permessage-deflate"] },
      ),
      { ok: true, protocol: null, extensions: value },
    );
  });
});

describe("RFC 6455 §4.2.1: isWebSocketRequest (the seed's websocket-p)", () => {
  it("recognises an upgrade request", () => {
    const request = new Request("http://localhost/", {
      headers: { Upgrade: "websocket", Connection: "keep-alive, Upgrade" },
    });
    assert.equal(isWebSocketRequest(request), true);
  });

  it("does not check the key or the version", () => {
    const request = new Request("http://localhost/", {
      headers: { Upgrade: "WebSocket", Connection: "upgrade" },
    });
    assert.equal(isWebSocketRequest(request), true);
  });

  it("rejects other methods and missing headers", () => {
    const headers = { Upgrade: "websocket", Connection: "Upgrade" };
    assert.equal(
      isWebSocketRequest(
        new Request("http://localhost/", { method: "POST", headers }),
      ),
      false,
    );
    assert.equal(
      isWebSocketRequest(
        new Request("http://localhost/", {
          headers: { Upgrade: "websocket" },
        }),
      ),
      false,
    );
    assert.equal(
      isWebSocketRequest(
        new Request("http://localhost/", {
          headers: { Connection: "Upgrade" },
        }),
      ),
      false,
    );
    assert.equal(isWebSocketRequest(new Request("http://localhost/")), false);
  });
});
