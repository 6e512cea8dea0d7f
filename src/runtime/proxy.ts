/**
 * Which proxy a client connection goes through, from the environment as curl,
 * Python and undici read it: `https_proxy` for `wss:`, `http_proxy` for
 * `ws:`, `all_proxy` for both (lower case first, then upper case), unless
 * `no_proxy` names the host. On Deno a variable is read only when env access
 * to it is granted already: never prompted for (as `WSD_BINDING` in mod.ts).
 *
 * `no_proxy` is a list separated by commas or spaces: `*` matches every
 * host; `example.com`, `.example.com` and `*.example.com` match that domain
 * and its subdomains; an entry with `:port` matches that port only; IP
 * addresses match exactly (IPv6 in brackets when a port follows).
 *
 * @module
 */

import { runtimeName } from "./mod.ts";

/** Reads one environment variable; `undefined` when it is unset or may not be read. */
export type EnvReader = (name: string) => string | undefined;

/** The environment of this process, read without ever prompting. */
export const processEnv: EnvReader = (name) => {
  try {
    if (runtimeName === "deno") {
      const status = Deno.permissions.querySync({ name: "env", variable: name });
      return status.state === "granted" ? Deno.env.get(name) : undefined;
    }
    const process = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
    return process?.env?.[name];
  } catch {
    return undefined;
  }
};

/** The first of `names` (each tried in lower, then upper case) that is set and not empty. */
function variable(env: EnvReader, ...names: string[]): string | undefined {
  for (const name of names) {
    for (const spelled of [name, name.toUpperCase()]) {
      const value = env(spelled)?.trim();
      if (value) return value;
    }
  }
  return undefined;
}

/**
 * The proxy URL the environment gives for a connection to `url` (`ws:` or
 * `wss:`), or `null` for a direct connection. A proxy value without a scheme
 * is taken as `http://`.
 */
export function proxyFromEnvironment(url: URL, env: EnvReader = processEnv): string | null {
  const tls = url.protocol === "wss:" || url.protocol === "https:";
  const proxy = tls ? variable(env, "https_proxy", "all_proxy") : variable(env, "http_proxy", "all_proxy");
  if (proxy === undefined) return null;
  const port = url.port === "" ? (tls ? 443 : 80) : Number(url.port);
  if (bypassesProxy(url.hostname, port, variable(env, "no_proxy") ?? "")) return null;
  return proxy.includes("://") ? proxy : `http://${proxy}`;
}

/** Whether `no_proxy` (see the module doc) exempts `hostname:port` from the proxy. */
export function bypassesProxy(hostname: string, port: number, noProxy: string): boolean {
  const host = unbracket(hostname).toLowerCase().replace(/\.$/, "");
  for (let entry of noProxy.toLowerCase().split(/[\s,]+/)) {
    if (entry === "") continue;
    if (entry === "*") return true;
    let entryPort: number | undefined;
    const portMatch = /^(\[[^\]]*\]|[^:]*):(\d+)$/.exec(entry);
    if (portMatch !== null) {
      entry = portMatch[1];
      entryPort = Number(portMatch[2]);
    }
    if (entryPort !== undefined && entryPort !== port) continue;
    entry = unbracket(entry).replace(/^\*?\./, "").replace(/\.$/, "");
    if (entry === "") continue;
    if (host === entry || (!entry.includes(":") && host.endsWith(`.${entry}`))) return true;
  }
  return false;
}

function unbracket(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}
