// The command line of wsd (src/cli/args.ts), in-process: every option, and
// every mistake with its message.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseArgs, USAGE, UsageError } from "../../src/cli/args.ts";

function usageError(args: string[], pattern: RegExp): void {
  assert.throws(() => parseArgs(args), (error: unknown) => {
    assert.ok(error instanceof UsageError, `a UsageError for ${args.join(" ")}`);
    assert.match((error as Error).message, pattern);
    return true;
  });
}

describe("wsd command line", () => {
  it("defaults: connect to the URL, 10 s timeout, nothing else", () => {
    const o = parseArgs(["ws://localhost:5000/"]);
    assert.equal(o.mode, "connect");
    assert.equal(o.url, "ws://localhost:5000/");
    assert.deepEqual(o.headers, []);
    assert.deepEqual(o.protocols, []);
    assert.equal(o.timeout, 10_000);
    assert.equal(o.wait, 0);
    assert.equal(o.slash, undefined);
    assert.equal(o.maxLength, undefined);
    for (const flag of ["deflate", "insecure", "ping", "binary", "json", "verbose", "echo"] as const) {
      assert.equal(o[flag], false, flag);
    }
  });

  it("reads every connect option, long and short, with = or a separate value", () => {
    const o = parseArgs([
      "-H",
      "Authorization: Bearer a:b",
      "--header=X-One:  1 ",
      "-s",
      "chat",
      "--subprotocol",
      "superchat",
      "--deflate",
      "--ca",
      "ca.pem",
      "-xhello",
      "--binary",
      "--timeout=0.25",
      "--max-length",
      "64k",
      "--json",
      "-v",
      "wss://example.com/x",
    ]);
    assert.deepEqual(o.headers, [["Authorization", "Bearer a:b"], ["X-One", "1"]]);
    assert.deepEqual(o.protocols, ["chat", "superchat"]);
    assert.equal(o.deflate, true);
    assert.equal(o.ca, "ca.pem");
    assert.equal(o.execute, "hello");
    assert.equal(o.binary, true);
    const session = parseArgs(["-w", "1.5", "--no-slash", "ws://h/"]);
    assert.equal(session.wait, 1500);
    assert.equal(session.slash, false);
    assert.equal(o.timeout, 250);
    assert.equal(o.maxLength, 65536);
    assert.equal(o.json, true);
    assert.equal(o.verbose, true);
    assert.equal(o.url, "wss://example.com/x");
    assert.equal(parseArgs(["--slash", "ws://h/"]).slash, true);
    assert.equal(parseArgs(["--insecure", "--ping", "ws://h/"]).insecure, true);
    assert.equal(parseArgs(["-x", "-1", "ws://h/"]).execute, "-1", "a value may start with -");
    assert.equal(parseArgs(["-x=a", "ws://h/"]).execute, "a");
    assert.equal(parseArgs(["-x", "a", "ws://h/"]).count, undefined, "one answer unless told");
    assert.equal(parseArgs(["-x", "a", "-n", "3", "ws://h/"]).count, 3);
    assert.equal(parseArgs(["-x", "a", "--count=0", "ws://h/"]).count, 0);
    assert.equal(parseArgs(["-x", "a", "--wait", "1.5", "ws://h/"]).wait, 1500, "--wait goes with -x");
  });

  it("reads byte sizes with k, m, g suffixes", () => {
    const size = (s: string) => parseArgs(["--max-length", s, "ws://h/"]).maxLength;
    assert.equal(size("0"), 0);
    assert.equal(size("1000"), 1000);
    assert.equal(size("2K"), 2048);
    assert.equal(size("3m"), 3 << 20);
    assert.equal(size("1g"), 1 << 30);
    assert.equal(size("4KiB"), 4096);
  });

  it("reads listen mode: port, host, echo, and the options both modes share", () => {
    const o = parseArgs(["--listen", "8080", "--host", "127.0.0.1", "--echo", "-s", "chat", "--json", "--deflate"]);
    assert.equal(o.mode, "listen");
    assert.equal(o.port, 8080);
    assert.equal(o.host, "127.0.0.1");
    assert.equal(o.echo, true);
    assert.deepEqual(o.protocols, ["chat"]);
    assert.equal(parseArgs(["-l", "0"]).port, 0);
    assert.equal(parseArgs(["-l", "0"]).host, "0.0.0.0");
  });

  it("--help wins, and the help lists every option with examples", () => {
    assert.equal(parseArgs(["--help"]).mode, "help");
    assert.equal(parseArgs(["-h", "--nonsense-after-is-not-read-as-url"]).mode, "help");
    for (
      const option of [
        "-H, --header",
        "-s, --subprotocol",
        "--deflate",
        "--ca FILE",
        "--insecure",
        "--max-length",
        "-x, --execute",
        "-n, --count N",
        "--ping",
        "--binary",
        "--timeout",
        "--json",
        "--listen PORT",
        "--echo",
        "/ping",
        "/close [code] [reason]",
        "/binary HEX",
        "/quit",
        "NO_COLOR",
        "Examples:",
      ]
    ) {
      assert.ok(USAGE.includes(option), `the help mentions ${option}`);
    }
  });

  it("-- ends the options", () => {
    assert.equal(parseArgs(["--", "ws://h/"]).url, "ws://h/");
  });

  it("refuses mistakes, saying what is wrong", () => {
    usageError([], /Missing the URL/);
    usageError(["--nope", "ws://h/"], /Unknown option --nope/);
    usageError(["-q", "ws://h/"], /Unknown option -q/);
    usageError(["ws://h/", "-x"], /Option -x needs a value/);
    usageError(["--ping=yes", "ws://h/"], /--ping takes no value/);
    usageError(["ws://a/", "ws://b/"], /one URL only/);
    usageError(["-x", "a", "--ping", "ws://h/"], /-x and --ping do not go together/);
    usageError(["--insecure", "--ca", "f", "wss://h/"], /--insecure and --ca do not go together/);
    usageError(["-x", "a", "--slash", "ws://h/"], /--slash does nothing with -x, which reads no input/);
    usageError(["--ping", "--wait", "1", "ws://h/"], /--wait does nothing with --ping/);
    usageError(["--count", "2", "ws://h/"], /--count counts the answers to -x MESSAGE; it needs -x/);
    usageError(["-x", "a", "-n", "two", "ws://h/"], /Invalid --count "two": expected a whole number/);
    usageError(["-x", "a", "--count", "-1", "ws://h/"], /Invalid --count "-1"/);
    usageError(["--listen", "0", "--count", "1"], /--count is for connecting/);
    usageError(["--ping", "--slash", "ws://h/"], /--slash does nothing with --ping/);
    usageError(["--ping", "--binary", "ws://h/"], /--binary does nothing with --ping/);
    usageError(["-H", "no colon", "ws://h/"], /Invalid header "no colon": expected "Name: value"/);
    usageError(["-H", ": v", "ws://h/"], /Invalid header/);
    usageError(["-H", "Bad Name: v", "ws://h/"], /Invalid header name "Bad Name"/);
    usageError(["--timeout", "0", "ws://h/"], /Invalid --timeout "0": expected seconds, a number above 0/);
    usageError(["--timeout", "soon", "ws://h/"], /Invalid --timeout/);
    usageError(["--wait", "-1", "ws://h/"], /Invalid --wait "-1"/);
    usageError(["--max-length", "lots", "ws://h/"], /Invalid --max-length "lots": expected a number of bytes/);
    usageError(["--listen", "99999"], /Invalid port "99999"/);
    usageError(["--listen", "http"], /Invalid port "http"/);
    usageError(["--listen", "0", "ws://h/"], /--listen takes no URL/);
    usageError(["--listen", "0", "--ping"], /--ping is for connecting/);
    usageError(["--listen", "0", "-H", "a: b"], /--header is for connecting/);
    usageError(["--echo", "ws://h/"], /--echo needs --listen PORT/);
    usageError(["--host", "::1", "ws://h/"], /--host needs --listen PORT/);
  });
});
