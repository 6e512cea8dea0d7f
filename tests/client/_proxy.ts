/**
 * Test helper (not a test file): a real HTTP CONNECT proxy, Debian's
 * `tinyproxy` (1.11), on 127.0.0.1 and a free port, with its own config in a
 * temporary directory; `close()` stops it by its PID and removes the
 * directory.
 *
 * @module
 */

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closedPort, withTimeout } from "./_servers.ts";
import { exited } from "../_shared/child.ts";

/** Where Debian installs tinyproxy (tools/test_all.sh installs it). */
export const TINYPROXY = "/usr/bin/tinyproxy";

/** A running tinyproxy. */
export interface Tinyproxy {
  /** `http://127.0.0.1:port` (without credentials). */
  url: string;
  port: number;
  /** What it logged so far (one line per request: `CONNECT 127.0.0.1:1234`, …). */
  log(): string;
  /** Stops it (by PID) and waits until it exited. */
  close(): Promise<void>;
}

/** Options of {@linkcode startTinyproxy}. */
export interface TinyproxyOptions {
  /** `BasicAuth user password`: without them, 407. */
  basicAuth?: [user: string, password: string];
  /** `ConnectPort` lines: CONNECT to any other port is refused (403). */
  connectPorts?: number[];
}

/** Starts tinyproxy in the foreground (`-d`) and waits until it accepts connections. */
export async function startTinyproxy(options: TinyproxyOptions = {}): Promise<Tinyproxy> {
  const dir = mkdtempSync(join(tmpdir(), "wsd-tinyproxy-"));
  const port = await closedPort();
  const lines = [
    `Port ${port}`,
    "Listen 127.0.0.1",
    "Allow 127.0.0.1",
    "Timeout 30",
    "MaxClients 50",
    "LogLevel Info",
  ];
  if (options.basicAuth) lines.push(`BasicAuth ${options.basicAuth[0]} ${options.basicAuth[1]}`);
  for (const p of options.connectPorts ?? []) lines.push(`ConnectPort ${p}`);
  const config = join(dir, "tinyproxy.conf");
  writeFileSync(config, lines.join("\n") + "\n");
  const child = spawn(TINYPROXY, ["-d", "-c", config], { stdio: ["ignore", "pipe", "pipe"] });
  const gone = exited(child);
  let log = "";
  child.stdout!.setEncoding("utf8");
  child.stderr!.setEncoding("utf8");
  child.stdout!.on("data", (s: string) => log += s);
  child.stderr!.on("data", (s: string) => log += s);
  const close = async (): Promise<void> => {
    // child.kill signals this child's own PID (never a name).
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await gone;
    child.stdout!.destroy();
    child.stderr!.destroy();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (log.includes("Accepting connections")) resolve();
          else if (child.exitCode !== null) reject(new Error(`tinyproxy exited with ${child.exitCode}: ${log}`));
          else setTimeout(check, 20);
        };
        child.once("error", reject);
        check();
      }),
      "tinyproxy to start",
    );
  } catch (error) {
    await close();
    throw error;
  }
  return { url: `http://127.0.0.1:${port}`, port, log: () => log, close };
}
