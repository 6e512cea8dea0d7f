/**
 * allowOrigins (cross-site WebSocket hijacking): makeServer's option and
 * serve()'s default, on every backend this runtime has. A listed origin opens
 * (compared as serialized origins), another gets 403 with a body saying why,
 * and the server emits error (HandshakeError 403) then close 1006; a request
 * without Origin is allowed by a list; "null" only when listed; a predicate
 * decides alone. Bad lists are refused when the options are given.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { availableBackends, HandshakeError, makeServer, serve } from "../../server.ts";
import { bodyOf, exchange, HOST, requestHead, startServer, withTimeout } from "./_util.ts";
import type { StartOptions, TestServer } from "./_util.ts";

const T = { timeout: 20_000 };

async function withServer(
  backend: "tcp" | "node" | "deno",
  options: StartOptions,
  body: (server: TestServer) => Promise<void>,
): Promise<void> {
  const server = await startServer(backend, options);
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

async function status(server: TestServer, origin: string | null): Promise<number> {
  const response = await exchange(server.port, requestHead({ headers: { Origin: origin } }));
  return response.status;
}

describe("allowOrigins", () => {
  it("bad lists are refused at once (TypeError)", () => {
    const request = new Request(`http://${HOST}/`);
    for (const bad of [["example.com"], ["https://example.com/path"], ["https://a.com?q"], [42], "https://a.com"]) {
      assert.throws(
        // deno-lint-ignore no-explicit-any
        () => makeServer(request, { allowOrigins: bad as any }),
        TypeError,
        JSON.stringify(bad),
      );
      // deno-lint-ignore no-explicit-any
      assert.throws(() => serve(() => new Response(), { allowOrigins: bad as any, port: 0 }), TypeError);
    }
    makeServer(request, { allowOrigins: ["https://example.com", "http://localhost:8000", "null"] });
    makeServer(request, { allowOrigins: () => true });
  });

  for (const backend of availableBackends()) {
    describe(`on the ${backend} backend`, () => {
      it("makeServer's list: exact serialized origins, case-insensitive scheme and host, default port", T, async () => {
        await withServer(
          backend,
          { server: { allowOrigins: ["https://example.com", "http://localhost:8000"] } },
          async (server) => {
            assert.equal(await status(server, "https://example.com"), 101);
            assert.equal(await status(server, "HTTPS://Example.COM:443"), 101);
            assert.equal(await status(server, "http://localhost:8000"), 101);
            assert.equal(await status(server, "http://example.com"), 403); // another scheme
            assert.equal(await status(server, "https://example.com:8443"), 403); // another port
            assert.equal(await status(server, "https://sub.example.com"), 403);
            assert.equal(await status(server, "https://example.com.evil.net"), 403);
            assert.equal(await status(server, "null"), 403); // not listed
            assert.equal(await status(server, "not an origin"), 403);
            // No Origin: not a browser, allowed by a list.
            assert.equal(await status(server, null), 101);
          },
        );
      });

      it("a refusal: 403 with a body naming the origin; error (HandshakeError 403) then close 1006", T, async () => {
        await withServer(backend, { server: { allowOrigins: ["https://example.com"] } }, async (server) => {
          const response = await exchange(server.port, requestHead({ headers: { Origin: "https://evil.example" } }));
          assert.equal(response.status, 403);
          assert.match(bodyOf(response), /Origin not allowed: https:\/\/evil\.example/);
          const record = await server.nextServer();
          const [code] = await withTimeout(record.closed, "close");
          assert.equal(code, 1006);
          assert.deepEqual(record.events.map((e) => e[0]), ["error", "close"]);
          const error = record.events[0][1];
          assert.ok(error instanceof HandshakeError);
          assert.equal(error.status, 403);
        });
      });

      it('"null" is allowed only when listed', T, async () => {
        await withServer(backend, { server: { allowOrigins: ["null"] } }, async (server) => {
          assert.equal(await status(server, "null"), 101);
          assert.equal(await status(server, "https://example.com"), 403);
        });
      });

      it("a predicate decides alone: it gets the Origin (null when absent) and the request", T, async () => {
        const seen: Array<[string | null, string]> = [];
        const allowOrigins = (origin: string | null, request: Request) => {
          seen.push([origin, new URL(request.url).pathname]);
          return origin !== null && origin.endsWith(".example.com");
        };
        await withServer(backend, { server: { allowOrigins } }, async (server) => {
          assert.equal(await status(server, "https://a.example.com"), 101);
          assert.equal(await status(server, "https://example.org"), 403);
          assert.equal(await status(server, null), 403);
        });
        assert.deepEqual(seen, [["https://a.example.com", "/"], ["https://example.org", "/"], [null, "/"]]);
      });

      it("serve()'s allowOrigins is the default of its servers; makeServer's own wins", T, async () => {
        await withServer(backend, { serve: { allowOrigins: ["https://example.com"] } }, async (server) => {
          assert.equal(await status(server, "https://example.com"), 101);
          assert.equal(await status(server, "https://evil.example"), 403);
        });
        await withServer(
          backend,
          { serve: { allowOrigins: ["https://example.com"] }, server: { allowOrigins: ["https://other.example"] } },
          async (server) => {
            assert.equal(await status(server, "https://other.example"), 101);
            assert.equal(await status(server, "https://example.com"), 403);
          },
        );
      });
    });
  }
});
