// The pure parts of wsd, in-process: hex dumps and hex input, close-code
// names, terminal safety, slash commands, and the Output (colours, NO_COLOR,
// JSON, and printing above a half-typed line).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { COMMAND_HELP, parseCommand } from "../../src/cli/commands.ts";
import {
  closeCodeName,
  describePayload,
  formatMs,
  hexDump,
  paint,
  parseHex,
  rowsOf,
  sanitize,
  stripColors,
  toHex,
} from "../../src/cli/format.ts";
import { Output } from "../../src/cli/output.ts";
import type { CliProcess } from "../../src/runtime/process.ts";

describe("hex", () => {
  it("dumps like hexdump -C: offset, two groups of 8, ASCII", () => {
    const bytes = new TextEncoder().encode("hello world\x00\x01\x02\x03\x04\x05\x06\x07\x08");
    assert.deepEqual(hexDump(bytes), [
      "00000000  68 65 6c 6c 6f 20 77 6f  72 6c 64 00 01 02 03 04  |hello world.....|",
      "00000010  05 06 07 08                                       |....|",
    ]);
    assert.deepEqual(hexDump(new Uint8Array(0)), []);
    assert.deepEqual(hexDump(new Uint8Array([0xff])), [
      "00000000  ff                                                |.|",
    ]);
  });

  it("shows at most the limit, then counts the rest", () => {
    const lines = hexDump(new Uint8Array(100), 32);
    assert.equal(lines.length, 3);
    assert.equal(lines[1].slice(0, 8), "00000010");
    assert.equal(lines[2], "… 68 more bytes not shown");
    assert.equal(hexDump(new Uint8Array(5000)).length, 4096 / 16 + 1, "4096 bytes by default");
  });

  it("parses /binary input: pairs, spaces, colons, 0x; refuses the rest", () => {
    assert.deepEqual(parseHex("0001ff"), new Uint8Array([0, 1, 255]));
    assert.deepEqual(parseHex(" 00 01 FE ff "), new Uint8Array([0, 1, 254, 255]));
    assert.deepEqual(parseHex("0x0a:0B"), new Uint8Array([10, 11]));
    assert.throws(() => parseHex(""), /expected hex digits/);
    assert.throws(() => parseHex("abc"), /odd number of hex digits \(3\)/);
    assert.throws(() => parseHex("zz"), /"z" is not a hex digit/);
    assert.equal(toHex(new Uint8Array([0, 15, 16, 255])), "000f10ff");
  });
});

describe("names and safety", () => {
  it("names close codes", () => {
    assert.equal(closeCodeName(1000), "normal closure");
    assert.equal(closeCodeName(1006), "abnormal closure");
    assert.equal(closeCodeName(1009), "message too big");
    assert.equal(closeCodeName(3001), "registered");
    assert.equal(closeCodeName(4000), "application");
    assert.equal(closeCodeName(2000), "unknown");
  });

  it("escapes control characters from the network, keeping newlines and tabs", () => {
    assert.equal(sanitize("a\x1b]0;title\x07b"), "a\\x1b]0;title\\x07b");
    assert.equal(sanitize("x\ty\nz\r"), "x\ty\nz\\x0d");
    assert.equal(sanitize("\u009b31m"), "\\x9b31m", "C1 controls too");
    assert.equal(sanitize("héllo ✓"), "héllo ✓");
  });

  it("describes control-frame payloads as text when printable, else hex", () => {
    assert.equal(describePayload(new Uint8Array(0)), "(empty)");
    assert.equal(describePayload(new TextEncoder().encode("hi")), '"hi"');
    assert.equal(describePayload(new Uint8Array([0, 1])), "0x0001");
    assert.equal(describePayload(new Uint8Array([0xff])), "0xff");
  });

  it("counts terminal rows, wide characters as two columns", () => {
    assert.equal(rowsOf("", 80), 1);
    assert.equal(rowsOf("x".repeat(80), 80), 1);
    assert.equal(rowsOf("x".repeat(81), 80), 2);
    assert.equal(rowsOf(paint(true, "red", "x".repeat(80)), 80), 1, "colours take no room");
    assert.equal(rowsOf("界".repeat(41), 80), 2);
  });

  it("paints with SGR, or not at all", () => {
    assert.equal(paint(true, "red", "e"), "\x1b[31me\x1b[39m");
    assert.equal(paint(false, "red", "e"), "e");
    assert.equal(stripColors(paint(true, "bold", "b")), "b");
    assert.equal(formatMs(0.4123), "0.412 ms");
    assert.equal(formatMs(12.34), "12.3 ms");
    assert.equal(formatMs(1234.5), "1235 ms");
  });
});

describe("slash commands", () => {
  it("parses each command", () => {
    assert.deepEqual(parseCommand("hello"), { kind: "text", text: "hello" });
    assert.deepEqual(parseCommand("//etc/passwd"), { kind: "text", text: "/etc/passwd" });
    assert.deepEqual(parseCommand("/ping"), { kind: "ping", data: undefined });
    assert.deepEqual(parseCommand("/ping are you there"), { kind: "ping", data: "are you there" });
    assert.deepEqual(parseCommand("/close"), { kind: "close", code: 1000, reason: "" });
    assert.deepEqual(parseCommand("/close 4000"), { kind: "close", code: 4000, reason: "" });
    assert.deepEqual(parseCommand("/close 4000 bye now"), { kind: "close", code: 4000, reason: "bye now" });
    assert.deepEqual(parseCommand("/binary 00 ff"), { kind: "binary", bytes: new Uint8Array([0, 255]) });
    assert.deepEqual(parseCommand("/quit"), { kind: "quit" });
    assert.deepEqual(parseCommand("/exit"), { kind: "quit" });
    assert.deepEqual(parseCommand("/help"), { kind: "help" });
  });

  it("explains a wrong command", () => {
    assert.deepEqual(parseCommand("/close bye"), {
      kind: "invalid",
      message: "usage: /close [code] [reason], as in /close 4000 bye",
    });
    assert.deepEqual(parseCommand("/binary 0"), {
      kind: "invalid",
      message: "/binary: odd number of hex digits (1): each byte takes two",
    });
    const unknown = parseCommand("/frobnicate x");
    assert.equal(unknown.kind, "invalid");
    assert.match((unknown as { message: string }).message, /unknown command \/frobnicate.*\/\/frobnicate sends/);
    assert.ok(COMMAND_HELP.some((l) => l.startsWith("/close [code] [reason]")));
  });
});

/** A fake process that records what is written. */
function fakeIo(terminal: boolean, env: Record<string, string> = {}): CliProcess & { written: string[] } {
  const written: string[] = [];
  return {
    written,
    args: [],
    env: (name) => env[name],
    stdinIsTerminal: terminal,
    stdoutIsTerminal: terminal,
    stderrIsTerminal: terminal,
    columns: () => 20,
    lines: () => (async function* () {})(),
    write: (stream, text) => void written.push(`${stream}:${text}`),
    readTextFile: () => Promise.reject(new Error("no files")),
    onSignal: () => () => {},
    exit: () => Promise.reject(new Error("no exit")),
  };
}

describe("Output", () => {
  it("colours on a terminal, not with NO_COLOR, not on a pipe, not with --json", () => {
    const on = new Output(fakeIo(true), { json: false, prompt: false });
    assert.equal(on.paint("stdout", "red", "x"), "\x1b[31mx\x1b[39m");
    const noColor = new Output(fakeIo(true, { NO_COLOR: "1" }), { json: false, prompt: false });
    assert.equal(noColor.paint("stdout", "red", "x"), "x");
    const empty = new Output(fakeIo(true, { NO_COLOR: "" }), { json: false, prompt: false });
    assert.equal(empty.paint("stderr", "red", "x"), "\x1b[31mx\x1b[39m", "an empty NO_COLOR does not count");
    assert.equal(new Output(fakeIo(false), { json: false, prompt: false }).paint("stdout", "red", "x"), "x");
    assert.equal(new Output(fakeIo(true), { json: true, prompt: true }).paint("stdout", "red", "x"), "x");
    assert.equal(new Output(fakeIo(true), { json: true, prompt: true }).promptMode, false);
  });

  it("sanitizes remote text only on a terminal", () => {
    assert.equal(new Output(fakeIo(true), { json: false, prompt: false }).remote("stdout", "\x1b"), "\\x1b");
    assert.equal(new Output(fakeIo(false), { json: false, prompt: false }).remote("stdout", "\x1b"), "\x1b");
  });

  it("prints text as is and binary as a dump with its length", () => {
    const io = fakeIo(false);
    const out = new Output(io, { json: false, prompt: false });
    out.message("a\x1bb", "");
    out.message(new Uint8Array([1, 2, 3]), "");
    assert.deepEqual(io.written, [
      "stdout:a\x1bb\n",
      "stdout:binary message, 3 bytes\n" +
      "00000000  01 02 03                                          |...|\n",
    ]);
  });

  it("inserts lines above a half-typed line once the prompt is shown", () => {
    const io = fakeIo(true, { NO_COLOR: "1" });
    const out = new Output(io, { json: false, prompt: true });
    out.line("stdout", "before");
    out.prompt();
    out.prompt(); // once only
    out.line("stderr", "x".repeat(30)); // two rows of 20 columns
    out.promptTaken();
    out.line("stdout", "after");
    out.prompt();
    out.endPrompt();
    assert.deepEqual(io.written, [
      "stdout:before\n",
      "stdout:> ",
      `stderr:\x1b7\n\n\x1b[2A\x1b[2L\r${"x".repeat(30)}\n\x1b8\x1b[2B`,
      "stdout:after\n",
      "stdout:> ",
      "stdout:\r\x1b[K",
    ]);
  });

  it("writes one JSON object per line with --json", () => {
    const io = fakeIo(true);
    new Output(io, { json: true, prompt: true }).event({ event: "close", code: 1000, reason: "" });
    assert.deepEqual(io.written, ['stdout:{"event":"close","code":1000,"reason":""}\n']);
  });
});
