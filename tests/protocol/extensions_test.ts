import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  acceptDeflateOffer,
  acceptDeflateResponse,
  deflateConfig,
  deflateOffer,
  parseExtensions,
} from "../../src/protocol/extensions.ts";
import type { DeflateConfig } from "../../src/protocol/extensions.ts";

const DEFAULTS = deflateConfig(true, "test")!;
const config = (settings: Partial<DeflateConfig>): DeflateConfig => deflateConfig(settings, "test")!;

describe("parseExtensions (RFC 6455 §9.1)", () => {
  it("reads names and parameters in order, with and without values", () => {
    assert.deepEqual(parseExtensions("permessage-deflate"), [{ name: "permessage-deflate", params: [] }]);
    assert.deepEqual(
      parseExtensions("permessage-deflate; client_max_window_bits; server_max_window_bits=10, x-foo"),
      [
        {
          name: "permessage-deflate",
          params: [["client_max_window_bits", null], ["server_max_window_bits", "10"]],
        },
        { name: "x-foo", params: [] },
      ],
    );
  });

  it("allows optional whitespace, empty list elements and quoted tokens", () => {
    assert.deepEqual(parseExtensions(' ,\ta ;  b = 1 ;c="12" ,, d\t,'), [
      { name: "a", params: [["b", "1"], ["c", "12"]] },
      { name: "d", params: [] },
    ]);
    assert.deepEqual(parseExtensions('a; b="x\\yz"'), [{ name: "a", params: [["b", "xyz"]] }]);
    assert.deepEqual(parseExtensions(""), []);
  });

  it("returns null for anything outside the grammar", () => {
    for (
      const bad of [
        "a;",
        "a;;b",
        "a; =1",
        "a b",
        "=a",
        "a; b=",
        'a; b="open',
        'a; b="two words"',
        'a; b=""',
        'a; b="x\\',
        "a; b=1 2",
        "a; b=1=2",
        "a/b",
        "a; b=(1)",
        "a;\u00e9",
      ]
    ) {
      assert.equal(parseExtensions(bad), null, bad);
    }
  });

  it('"any" quoted values: any RFC 9110 §5.6.4 quoted-string, the rest of the grammar unchanged', () => {
    assert.deepEqual(parseExtensions('a; b="two, words", c; d="\\"x"', "any"), [
      { name: "a", params: [["b", "two, words"]] },
      { name: "c", params: [["d", '"x']] },
    ]);
    assert.equal(parseExtensions('a; b="two, words"'), null, "the default keeps RFC 6455 §9.1's token rule");
    for (const bad of ['a; b="open', 'a; b="x\\', "a; =1", "a b", "a; b=", 'a; b="\u0001"', 'a; b="\\\u007f"']) {
      assert.equal(parseExtensions(bad, "any"), null, bad);
    }
  });

  it("runs in linear time on hostile input (CVE-2020-7662 was a ReDoS here)", () => {
    const inputs = [
      "a" + ";b".repeat(200_000),
      "a;b=" + '"'.repeat(1) + "\\x".repeat(200_000),
      ("permessage-deflate; client_max_window_bits, ").repeat(20_000) + "=",
      "a" + " ".repeat(400_000) + "!",
      'a;b="' + '\\"'.repeat(200_000),
    ];
    const start = performance.now();
    for (const input of inputs) parseExtensions(input);
    // A quadratic or exponential parser needs minutes here; a linear one milliseconds.
    assert.ok(performance.now() - start < 3000, `took ${performance.now() - start} ms`);
  });
});

describe("deflateConfig", () => {
  it("is off for undefined and false, the defaults for true", () => {
    assert.equal(deflateConfig(undefined, "x"), null);
    assert.equal(deflateConfig(false, "x"), null);
    assert.deepEqual(DEFAULTS, {
      threshold: 1024,
      level: 6,
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
    });
    assert.equal(config({ threshold: 0, level: 1 }).threshold, 0);
  });

  it("rejects wrong types, unknown keys and numbers out of range with a clear error", () => {
    assert.throws(() => deflateConfig("yes", "client options"), {
      name: "TypeError",
      message: /client options: perMessageDeflate must be a boolean or an object/,
    });
    assert.throws(() => deflateConfig({ windowBits: 10 }, "x"), { name: "TypeError", message: /unknown .*windowBits/ });
    assert.throws(() => deflateConfig({ serverNoContextTakeover: 1 }, "x"), TypeError);
    for (
      const bad of [
        { threshold: -1 },
        { threshold: 1.5 },
        { level: 0 },
        { level: 10 },
        { serverMaxWindowBits: 7 },
        { clientMaxWindowBits: 16 },
        { clientMaxWindowBits: "15" },
      ]
    ) {
      assert.throws(() => deflateConfig(bad, "x"), RangeError, JSON.stringify(bad));
    }
  });
});

function offers(header: string) {
  const parsed = parseExtensions(header);
  assert.ok(parsed !== null, header);
  return parsed;
}

describe("a server's choice among offers (RFC 7692 §5.1, §7.1)", () => {
  it("accepts a bare offer with nothing to add", () => {
    assert.deepEqual(acceptDeflateOffer(offers("permessage-deflate"), DEFAULTS), {
      params: {
        serverNoContextTakeover: false,
        clientNoContextTakeover: false,
        serverMaxWindowBits: 15,
        clientMaxWindowBits: 15,
      },
      response: "permessage-deflate",
    });
  });

  it("answers client_max_window_bits only to limit it, and only when the client offered it", () => {
    assert.equal(
      acceptDeflateOffer(offers("permessage-deflate; client_max_window_bits"), DEFAULTS)?.response,
      "permessage-deflate",
    );
    const limited = acceptDeflateOffer(
      offers("permessage-deflate; client_max_window_bits"),
      config({ clientMaxWindowBits: 10 }),
    );
    assert.equal(limited?.response, "permessage-deflate; client_max_window_bits=10");
    assert.equal(limited?.params.clientMaxWindowBits, 10);
    // Offered with a value: the answer may not be larger.
    const valued = acceptDeflateOffer(offers("permessage-deflate; client_max_window_bits=9"), DEFAULTS);
    assert.equal(valued?.response, "permessage-deflate; client_max_window_bits=9");
    assert.equal(valued?.params.clientMaxWindowBits, 9);
    // Not offered: the client's compressor may use 15 bits whatever we would like.
    const unoffered = acceptDeflateOffer(offers("permessage-deflate"), config({ clientMaxWindowBits: 10 }));
    assert.equal(unoffered?.response, "permessage-deflate");
    assert.equal(unoffered?.params.clientMaxWindowBits, 15);
  });

  it("honours server_max_window_bits and the no-context-takeover requests", () => {
    const a = acceptDeflateOffer(
      offers("permessage-deflate; server_max_window_bits=10; server_no_context_takeover; client_no_context_takeover"),
      DEFAULTS,
    );
    assert.equal(
      a?.response,
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10",
    );
    assert.deepEqual(a?.params, {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 15,
    });
    // Our own, smaller limits are announced even when not asked for.
    const b = acceptDeflateOffer(
      offers('permessage-deflate; server_max_window_bits="12"'),
      config({ serverMaxWindowBits: 9, serverNoContextTakeover: true, clientNoContextTakeover: true }),
    );
    assert.equal(
      b?.response,
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9",
    );
  });

  it("declines invalid or duplicated parameters and takes the next acceptable offer", () => {
    const bad = [
      "permessage-deflate; foo",
      "permessage-deflate; server_max_window_bits",
      "permessage-deflate; server_max_window_bits=7",
      "permessage-deflate; server_max_window_bits=16",
      "permessage-deflate; server_max_window_bits=010",
      "permessage-deflate; client_max_window_bits=1a",
      "permessage-deflate; server_no_context_takeover=1",
      "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
      "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
    ];
    for (const header of bad) assert.equal(acceptDeflateOffer(offers(header), DEFAULTS), null, header);
    const chosen = acceptDeflateOffer(
      offers(`x-webkit-deflate-frame, ${bad.join(", ")}, permessage-deflate; server_max_window_bits=11`),
      DEFAULTS,
    );
    assert.equal(chosen?.response, "permessage-deflate; server_max_window_bits=11");
    assert.equal(acceptDeflateOffer(offers("x-foo"), DEFAULTS), null);
  });

  it("never asks a client for a window below 9 bits unless it offered 8 itself", () => {
    const ours = acceptDeflateOffer(offers("permessage-deflate"), config({ serverMaxWindowBits: 8 }));
    assert.equal(ours?.response, "permessage-deflate; server_max_window_bits=9");
    assert.equal(ours?.params.serverMaxWindowBits, 8, "our compressor still keeps to 8");
    const asked = acceptDeflateOffer(offers("permessage-deflate; server_max_window_bits=8"), DEFAULTS);
    assert.equal(asked?.response, "permessage-deflate; server_max_window_bits=8");
    const client = acceptDeflateOffer(
      offers("permessage-deflate; client_max_window_bits"),
      config({ clientMaxWindowBits: 8 }),
    );
    assert.equal(client?.response, "permessage-deflate; client_max_window_bits=9");
    assert.equal(client?.params.clientMaxWindowBits, 9);
    const offered8 = acceptDeflateOffer(
      offers("permessage-deflate; client_max_window_bits=8"),
      config({ clientMaxWindowBits: 8 }),
    );
    assert.equal(offered8?.response, "permessage-deflate; client_max_window_bits=8");
  });

  it("answers server_max_window_bits=15 when offered 15, and caps an offered client window to its own", () => {
    assert.equal(
      acceptDeflateOffer(offers("permessage-deflate; server_max_window_bits=15"), DEFAULTS)?.response,
      "permessage-deflate; server_max_window_bits=15",
    );
    const capped = acceptDeflateOffer(
      offers("permessage-deflate; client_max_window_bits=12"),
      config({ clientMaxWindowBits: 10 }),
    );
    assert.equal(capped?.response, "permessage-deflate; client_max_window_bits=10");
    assert.equal(capped?.params.clientMaxWindowBits, 10);
  });

  it("accepts what Chromium offers", () => {
    assert.equal(
      acceptDeflateOffer(offers("permessage-deflate; client_max_window_bits"), DEFAULTS)?.response,
      "permessage-deflate",
    );
  });
});

describe("a client's offer and its check of the answer (RFC 7692 §7.1)", () => {
  it("offers client_max_window_bits and its own limits", () => {
    assert.equal(deflateOffer(DEFAULTS), "permessage-deflate; client_max_window_bits");
    assert.equal(
      deflateOffer(
        config({
          serverNoContextTakeover: true,
          clientNoContextTakeover: true,
          serverMaxWindowBits: 10,
          clientMaxWindowBits: 12,
        }),
      ),
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12",
    );
  });

  it("takes no header as no compression and reads the agreed parameters", () => {
    assert.deepEqual(acceptDeflateResponse(null, DEFAULTS), { ok: true, params: null });
    assert.deepEqual(acceptDeflateResponse("permessage-deflate", DEFAULTS), {
      ok: true,
      params: {
        serverNoContextTakeover: false,
        clientNoContextTakeover: false,
        serverMaxWindowBits: 15,
        clientMaxWindowBits: 15,
      },
    });
    assert.deepEqual(
      acceptDeflateResponse(
        "permessage-deflate; server_no_context_takeover; client_max_window_bits=9; server_max_window_bits=8",
        DEFAULTS,
      ),
      {
        ok: true,
        params: {
          serverNoContextTakeover: true,
          clientNoContextTakeover: false,
          serverMaxWindowBits: 8,
          clientMaxWindowBits: 9,
        },
      },
    );
    // A server may add client_no_context_takeover unasked (§7.1.1.2) and a
    // smaller server window than offered (§7.1.2.1).
    const added = acceptDeflateResponse(
      "permessage-deflate; client_no_context_takeover; server_max_window_bits=9",
      config({ serverMaxWindowBits: 10 }),
    );
    assert.ok(added.ok && added.params?.clientNoContextTakeover === true && added.params.serverMaxWindowBits === 9);
    // Our own client_no_context_takeover holds even if the server does not repeat it.
    const own = acceptDeflateResponse("permessage-deflate", config({ clientNoContextTakeover: true }));
    assert.ok(own.ok && own.params?.clientNoContextTakeover === true);
  });

  it("offers 9 for a configured 8, and keeps its own compressor to 8", () => {
    assert.equal(
      deflateOffer(config({ serverMaxWindowBits: 8, clientMaxWindowBits: 8 })),
      "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9",
    );
    const agreed = acceptDeflateResponse(
      "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9",
      config({ serverMaxWindowBits: 8, clientMaxWindowBits: 8 }),
    );
    assert.ok(agreed.ok);
    assert.equal(agreed.params?.clientMaxWindowBits, 8);
    assert.equal(agreed.params?.serverMaxWindowBits, 9);
    assert.equal(
      acceptDeflateResponse("permessage-deflate; server_max_window_bits=10", config({ serverMaxWindowBits: 8 })).ok,
      false,
    );
  });

  it("fails on anything the offer did not allow", () => {
    const cases: Array<[string, Partial<DeflateConfig>]> = [
      ["permessage-deflate; foo", {}],
      ["permessage-deflate; server_max_window_bits=16", {}],
      ["permessage-deflate; client_max_window_bits", {}],
      ["permessage-deflate; server_no_context_takeover; server_no_context_takeover", {}],
      ["permessage-deflate, permessage-deflate", {}],
      ["x-foo", {}],
      ["permessage-deflate;", {}],
      ["permessage-deflate", { serverMaxWindowBits: 10 }],
      ["permessage-deflate; server_max_window_bits=11", { serverMaxWindowBits: 10 }],
      ["permessage-deflate", { serverNoContextTakeover: true }],
      ["permessage-deflate; client_max_window_bits=12", { clientMaxWindowBits: 10 }],
    ];
    for (const [header, settings] of cases) {
      const result = acceptDeflateResponse(header, config(settings));
      assert.equal(result.ok, false, `${header} with ${JSON.stringify(settings)}`);
      assert.match(result.ok ? "" : result.message, /Invalid Sec-WebSocket-Extensions header in the response/);
    }
  });
});
