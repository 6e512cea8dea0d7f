/**
 * The command line of `wsd`: its options, their checks, and the help text.
 *
 * @module
 */

/** A mistake on the command line: shown with a pointer to `--help`, exit status 2. */
export class UsageError extends Error {
  /** Creates a usage error. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Everything the command line says. */
export interface CliOptions {
  /** What to do. */
  mode: "help" | "connect" | "listen";
  /** The server to connect to (connect mode). */
  url: string;
  /** `-H`: extra request headers, in order. */
  headers: Array<[name: string, value: string]>;
  /** `-s`: subprotocols to offer (connect) or accept (listen). */
  protocols: string[];
  /** `--deflate`: offer (connect) or accept (listen) permessage-deflate. */
  deflate: boolean;
  /** `--ca`: a PEM file of CA certificates to trust. */
  ca: string | undefined;
  /** `--insecure`: skip the check of the server's certificate. */
  insecure: boolean;
  /** `-x`: send this, print the answer(s), exit. */
  execute: string | undefined;
  /** `--count`: how many answers `-x` waits for; `undefined`: one (or, with `--wait`, any number). */
  count: number | undefined;
  /** `--ping`: send a ping, print the round-trip time, exit. */
  ping: boolean;
  /** `--binary`: send lines (and `-x`) as binary messages. */
  binary: boolean;
  /** `--wait`: milliseconds to keep receiving after the end of input, or after the send of `-x`. */
  wait: number;
  /** `--slash` / `--no-slash`; `undefined`: on when stdin is a terminal. */
  slash: boolean | undefined;
  /** `--max-length`: the largest message accepted, in bytes. */
  maxLength: number | undefined;
  /** `--timeout`: milliseconds for the handshake and for the answer of `-x`/`--ping`. */
  timeout: number;
  /** `--json`: one JSON object per event on stdout. */
  json: boolean;
  /** `-v`: response headers, pings and pongs too. */
  verbose: boolean;
  /** `--listen`: the port to listen on (listen mode). */
  port: number;
  /** `--host`: the address to listen on. */
  host: string;
  /** `--echo`: send every message back (listen mode). */
  echo: boolean;
  /** `--cert`: a PEM file with the certificate chain, for wss:// (listen mode, with `key`). */
  cert: string | undefined;
  /** `--key`: a PEM file with the private key, for wss:// (listen mode, with `cert`). */
  key: string | undefined;
}

/** The help text of `wsd --help`. */
export const USAGE = `wsd: talk to a WebSocket server, or run one, from the terminal.

Usage:
  wsd [options] URL            connect to URL (ws://, wss://, http:// or https://)
  wsd --listen PORT [options]  run a WebSocket server on PORT

Connected, each line of input is sent as a text message and each message
received is printed: text as is, binary as a hex dump with its length. On a
terminal, a "> " prompt takes the lines and slash commands work:
  /ping [data]            send a ping, print the round-trip time
  /close [code] [reason]  start the closing handshake (default 1000)
  /binary HEX             send a binary message (/binary 00 01 fe ff)
  /quit                   close with 1000 and exit (also Ctrl-D)
  /help                   list the commands
  //text                  send the line "/text"
From a pipe, every line is sent as it is, and the connection is closed once
the input ends. The handshake, errors and the close go to stderr, messages to
stdout. The exit status is 0 after a clean close (1000, 1001, 1005, or the
code of your /close), 1 when the connection failed or closed with an error,
2 for a mistake on the command line, 130 when interrupted twice.

Options (connect):
  -H, --header "Name: value"  add a header to the handshake request (repeatable)
  -s, --subprotocol NAME      offer a subprotocol (repeatable, most preferred first)
      --deflate               offer permessage-deflate compression
      --ca FILE               trust the CA certificate(s) in FILE (PEM) for wss://
      --insecure              accept any certificate for wss:// (testing only!)
  -x, --execute MESSAGE       send MESSAGE, print the answer to it, close, exit.
                              Messages that come before the send (a greeting) are
                              not answers: -x first pings and sends once the pong
                              is back, so whatever the server sent before it read
                              anything from us is left out (shown with -v)
  -n, --count N               with -x: print the first N answers (default 1;
                              0 sends and closes at once)
  -w, --wait SECONDS          keep receiving this long after the input ended
                              (default 0); with -x, print every answer within
                              SECONDS of the send (at least one, or --count N)
      --ping                  send a ping, print the round-trip time, close, exit
                              (messages that come meanwhile are left out)
      --timeout SECONDS       limit for the connection and handshake, and for the
                              answer(s) to -x or the pong of --ping (default 10)
Options (listen):
  -l, --listen PORT           listen on PORT (0 picks a free one); lines typed go
                              to every connection, slash commands too
      --host ADDRESS          the address to listen on (default 0.0.0.0: all)
      --echo                  send every message back to its sender
      --cert FILE, --key FILE serve wss:// with the certificate chain and private
                              key in these PEM files
  -s, --subprotocol NAME      accept a subprotocol (repeatable, preferred first)
      --deflate               accept permessage-deflate compression
Options (both):
      --binary                send lines (and -x) as binary messages
      --slash, --no-slash     slash commands on or off (default: on for a terminal)
      --max-length BYTES      the largest message accepted (default 67108863);
                              suffixes k, m, g multiply by 1024
      --json                  one JSON object per event on stdout, for scripts
  -v, --verbose               also show the response headers, pings and pongs
  -h, --help                  show this help

Colours are used on a terminal only, and never when NO_COLOR is set.

Examples:
  wsd ws://localhost:5000/echo
  wsd -x hello ws://localhost:5000/echo
  wsd -x subscribe --wait 5 wss://example.com/feed
  wsd --ping wss://example.com/socket
  wsd -H "Authorization: Bearer TOKEN" -s chat wss://example.com/chat
  wsd --ca ./ca.pem wss://localhost:8443/
  printf 'one\\ntwo\\n' | wsd --json ws://localhost:5000/echo
  wsd --listen 5000 --echo
  deno run -A jsr:@x/wsd/cli ws://localhost:5000/   (node cli.ts, bun cli.ts)
`;

type Kind = "flag" | "value";

/** Every option: its long name, short name, and whether it takes a value. */
const OPTIONS: Record<string, { short?: string; kind: Kind }> = {
  header: { short: "H", kind: "value" },
  subprotocol: { short: "s", kind: "value" },
  deflate: { kind: "flag" },
  ca: { kind: "value" },
  insecure: { kind: "flag" },
  execute: { short: "x", kind: "value" },
  count: { short: "n", kind: "value" },
  ping: { kind: "flag" },
  binary: { kind: "flag" },
  wait: { short: "w", kind: "value" },
  slash: { kind: "flag" },
  "no-slash": { kind: "flag" },
  timeout: { kind: "value" },
  listen: { short: "l", kind: "value" },
  host: { kind: "value" },
  echo: { kind: "flag" },
  cert: { kind: "value" },
  key: { kind: "value" },
  "max-length": { kind: "value" },
  json: { kind: "flag" },
  verbose: { short: "v", kind: "flag" },
  help: { short: "h", kind: "flag" },
};

const CONNECT_ONLY = ["header", "ca", "insecure", "execute", "count", "ping", "wait", "timeout"];
const LISTEN_ONLY = ["host", "echo", "cert", "key"];

const SHORT: Record<string, string> = Object.fromEntries(
  Object.entries(OPTIONS).filter(([, o]) => o.short).map(([name, o]) => [o.short!, name]),
);

/** `[name, value]` of `-H "Name: value"`. */
function parseHeader(text: string): [string, string] {
  const colon = text.indexOf(":");
  const name = colon < 0 ? "" : text.slice(0, colon).trim();
  if (colon < 0 || name === "") {
    throw new UsageError(`Invalid header ${JSON.stringify(text)}: expected "Name: value"`);
  }
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) {
    throw new UsageError(`Invalid header name ${JSON.stringify(name)}: expected letters, digits or !#$%&'*+-.^_\`|~`);
  }
  return [name, text.slice(colon + 1).trim()];
}

/** Seconds (a decimal number) as milliseconds. */
function parseSeconds(option: string, text: string, allowZero: boolean): number {
  const seconds = Number(text);
  if (text.trim() === "" || !Number.isFinite(seconds) || seconds < 0 || (!allowZero && seconds === 0)) {
    throw new UsageError(
      `Invalid --${option} ${JSON.stringify(text)}: expected seconds, a number ${allowZero ? "0 or more" : "above 0"}`,
    );
  }
  return seconds * 1000;
}

/** Bytes, with an optional k, m or g suffix (×1024). */
function parseBytes(option: string, text: string): number {
  const match = /^(\d+)([kmg]?)(i?b)?$/i.exec(text.trim());
  const value = match ? Number(match[1]) * 1024 ** "_kmg".indexOf(match[2].toLowerCase() || "_") : NaN;
  if (!Number.isSafeInteger(value)) {
    throw new UsageError(`Invalid --${option} ${JSON.stringify(text)}: expected a number of bytes, as in 65536 or 64k`);
  }
  return value;
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) {
    throw new UsageError(`Invalid port ${JSON.stringify(text)}: expected a number from 0 to 65535`);
  }
  return port;
}

/** The options before the command line says anything. */
function defaults(): CliOptions {
  return {
    mode: "connect",
    url: "",
    headers: [],
    protocols: [],
    deflate: false,
    ca: undefined,
    insecure: false,
    execute: undefined,
    count: undefined,
    ping: false,
    binary: false,
    wait: 0,
    slash: undefined,
    maxLength: undefined,
    timeout: 10_000,
    json: false,
    verbose: false,
    port: 0,
    host: "0.0.0.0",
    echo: false,
    cert: undefined,
    key: undefined,
  };
}

/** One option read from the command line: its long name, its value ("" for a flag), and the next index. */
interface OptionRead {
  name: string;
  value: string;
  next: number;
}

/** Reads the option at `args[i]` (which starts with "-"), and its value if it takes one. */
function readOption(args: readonly string[], i: number): OptionRead {
  const arg = args[i];
  let name: string;
  let inline: string | undefined;
  if (arg.startsWith("--")) {
    const eq = arg.indexOf("=");
    name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    inline = eq < 0 ? undefined : arg.slice(eq + 1);
    if (!(name in OPTIONS)) throw new UsageError(`Unknown option --${name}`);
  } else {
    const short = arg[1];
    if (!(short in SHORT)) throw new UsageError(`Unknown option -${short}`);
    name = SHORT[short];
    if (arg.length > 2) inline = arg.slice(arg[2] === "=" ? 3 : 2);
  }
  const spelled = arg.startsWith("--") ? `--${name}` : `-${OPTIONS[name].short}`;
  let value = "";
  let next = i + 1;
  if (OPTIONS[name].kind === "value") {
    if (inline !== undefined) value = inline;
    else if (next < args.length) value = args[next++];
    else throw new UsageError(`Option ${spelled} needs a value`);
  } else if (inline !== undefined) {
    throw new UsageError(`Option ${spelled} takes no value`);
  }
  return { name, value, next };
}

/** Sets what option `name` with `value` says in `options`, checking the value. */
function applyOption(options: CliOptions, name: string, value: string): void {
  switch (name) {
    case "header":
      options.headers.push(parseHeader(value));
      break;
    case "subprotocol":
      options.protocols.push(value);
      break;
    case "deflate":
      options.deflate = true;
      break;
    case "ca":
      options.ca = value;
      break;
    case "insecure":
      options.insecure = true;
      break;
    case "execute":
      options.execute = value;
      break;
    case "count":
      if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
        throw new UsageError(`Invalid --count ${JSON.stringify(value)}: expected a whole number, 0 or more`);
      }
      options.count = Number(value);
      break;
    case "ping":
      options.ping = true;
      break;
    case "binary":
      options.binary = true;
      break;
    case "wait":
      options.wait = parseSeconds("wait", value, true);
      break;
    case "slash":
      options.slash = true;
      break;
    case "no-slash":
      options.slash = false;
      break;
    case "timeout":
      options.timeout = parseSeconds("timeout", value, false);
      break;
    case "listen":
      options.mode = "listen";
      options.port = parsePort(value);
      break;
    case "host":
      if (value === "") throw new UsageError("Invalid --host: expected an address, as in 127.0.0.1");
      options.host = value;
      break;
    case "echo":
      options.echo = true;
      break;
    case "cert":
    case "key":
      if (value === "") throw new UsageError(`Invalid --${name}: expected a PEM file`);
      options[name] = value;
      break;
    case "max-length":
      options.maxLength = parseBytes("max-length", value);
      break;
    case "json":
      options.json = true;
      break;
    case "verbose":
      options.verbose = true;
      break;
    case "help":
      options.mode = "help";
      break;
  }
}

/** Checks that the options of `--listen` go together. */
function checkListen(options: CliOptions, positional: string[], seen: Set<string>): void {
  if (positional.length > 0) {
    throw new UsageError(`Unexpected argument ${JSON.stringify(positional[0])}: --listen takes no URL`);
  }
  const wrong = CONNECT_ONLY.find((o) => seen.has(o));
  if (wrong) throw new UsageError(`Option --${wrong} is for connecting; it cannot be used with --listen`);
  if ((options.cert === undefined) !== (options.key === undefined)) {
    throw new UsageError("Options --cert and --key go together: give both for wss://");
  }
}

/** Checks that the options of `wsd URL` go together, and that there is one URL. */
function checkConnect(options: CliOptions, positional: string[], seen: Set<string>): void {
  const wrong = LISTEN_ONLY.find((o) => seen.has(o));
  if (wrong) throw new UsageError(`Option --${wrong} needs --listen PORT`);
  if (positional.length === 0) throw new UsageError("Missing the URL to connect to (or --listen PORT)");
  if (positional.length > 1) throw new UsageError(`Unexpected argument ${JSON.stringify(positional[1])}: one URL only`);
  if (options.execute !== undefined && options.ping) throw new UsageError("Options -x and --ping do not go together");
  if (options.execute !== undefined || options.ping) {
    // These shape a session of input lines, which -x and --ping do not read.
    const which = options.ping ? "--ping" : "-x";
    const idle = ["slash", "no-slash", ...(options.ping ? ["wait", "binary"] : [])].find((o) => seen.has(o));
    if (idle) throw new UsageError(`Option --${idle} does nothing with ${which}, which reads no input`);
  }
  if (seen.has("count") && options.execute === undefined) {
    throw new UsageError("Option --count counts the answers to -x MESSAGE; it needs -x");
  }
  if (options.insecure && options.ca !== undefined) {
    throw new UsageError("Options --insecure and --ca do not go together: --insecure checks no certificate at all");
  }
}

/**
 * Reads the command line (the arguments after the script's name).
 *
 * @throws {UsageError} for an unknown option, a missing or bad value, a
 * missing URL, or options that do not go together.
 */
export function parseArgs(args: readonly string[]): CliOptions {
  const options = defaults();
  // --help wins over everything else on the line, mistakes included.
  const end = args.indexOf("--");
  if ((end < 0 ? args : args.slice(0, end)).some((a) => a === "-h" || a === "--help")) {
    return { ...options, mode: "help" };
  }
  const seen = new Set<string>();
  const positional: string[] = [];
  for (let i = 0; i < args.length;) {
    const arg = args[i];
    if (arg === "--") {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positional.push(arg);
      i++;
      continue;
    }
    const { name, value, next } = readOption(args, i);
    seen.add(name);
    applyOption(options, name, value);
    i = next;
  }
  if (options.mode === "help") return options;
  if (options.mode === "listen") {
    checkListen(options, positional, seen);
    return options;
  }
  checkConnect(options, positional, seen);
  options.url = positional[0];
  return options;
}
