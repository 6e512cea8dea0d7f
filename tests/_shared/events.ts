/**
 * Recording a connection's events in tests (not a test file): everything a
 * driver, a client or a server emitted, in order, with promises for `open`,
 * `close` and the n-th message.
 *
 * @module
 */

/** One recorded event: its name and arguments. */
export type Recorded = [name: string, ...args: unknown[]];

/** What {@linkcode record} listens to: anything with the connection events' `on`. */
export interface EventSource {
  // deno-lint-ignore no-explicit-any
  on(event: string, listener: (...args: any[]) => void): unknown;
}

/** Everything a connection emitted, in order, and its open and close as promises. */
export interface Recorder {
  /** Every event so far, oldest first. */
  events: Recorded[];
  /** The names of the events so far. */
  names(): string[];
  /** The messages received so far. */
  messages(): Array<string | Uint8Array>;
  /** The errors emitted so far. */
  errors(): Error[];
  /**
   * Resolves on `open`; rejects, naming the close and the first error, if
   * `close` comes first (a rejection nobody awaits is harmless).
   */
  opened: Promise<void>;
  /** Resolves with `(code, reason)` of the first `close` event. */
  closed: Promise<[code: number, reason: string]>;
  /** Resolves with all the messages once there are `n`. */
  nextMessages(n: number): Promise<Array<string | Uint8Array>>;
}

/** Records every event of `source` (add it before the source can emit). */
export function record(source: EventSource): Recorder {
  const events: Recorded[] = [];
  let onOpen!: () => void, onNotOpen!: (error: Error) => void;
  let onClose!: (value: [number, string]) => void;
  const opened = new Promise<void>((resolve, reject) => {
    onOpen = resolve;
    onNotOpen = reject;
  });
  opened.catch(() => {});
  const closed = new Promise<[number, string]>((resolve) => (onClose = resolve));
  const waiters: Array<{ n: number; resolve: (m: Array<string | Uint8Array>) => void }> = [];
  const messages = (): Array<string | Uint8Array> =>
    events.filter((e) => e[0] === "message").map((e) => e[1] as string | Uint8Array);
  source.on("open", () => {
    events.push(["open"]);
    onOpen();
  });
  source.on("message", (data: string | Uint8Array) => {
    events.push(["message", data]);
    const all = messages();
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (all.length >= waiters[i].n) waiters.splice(i, 1)[0].resolve(all);
    }
  });
  source.on("error", (error: Error) => events.push(["error", error]));
  source.on("ping", (data: Uint8Array) => events.push(["ping", data]));
  source.on("pong", (data: Uint8Array) => events.push(["pong", data]));
  source.on("close", (code: number, reason: string) => {
    events.push(["close", code, reason]);
    const error = events.find((e) => e[0] === "error")?.[1] as Error | undefined;
    onNotOpen(new Error(`closed (${code} ${reason}) before open${error ? `: ${error.message}` : ""}`));
    onClose([code, reason]);
  });
  return {
    events,
    names: () => events.map((e) => e[0]),
    messages,
    errors: () => events.filter((e) => e[0] === "error").map((e) => e[1] as Error),
    opened,
    closed,
    nextMessages(n: number): Promise<Array<string | Uint8Array>> {
      const all = messages();
      if (all.length >= n) return Promise.resolve(all);
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
  };
}
