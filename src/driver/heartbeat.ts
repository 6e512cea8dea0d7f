/**
 * Keepalive with dead-peer detection, for every connection of the process on
 * one timer. Each connection with a heartbeat owns one {@linkcode Heartbeat}:
 * its timing (silence → ping, silence after the ping → give up); the driver
 * decides what a due heartbeat does to the connection.
 *
 * ```text
 *   driver.#receive ── heartbeat.inputSeen = true      (a flag: no clock per read)
 *   shared timer ── earliest due Heartbeat ── owner's `due` ── heartbeat.check()
 *                                                            → nothing / PING / TIMED_OUT
 * ```
 *
 * @module
 */

/** What {@linkcode Heartbeat.check} asks of the connection: nothing. */
export const HEARTBEAT_WAIT = 0;
/** {@linkcode Heartbeat.check}: send a ping (the peer has been silent for `interval`). */
export const HEARTBEAT_PING = 1;
/** {@linkcode Heartbeat.check}: nothing arrived within `timeout` of the ping; drop the connection. */
export const HEARTBEAT_TIMED_OUT = 2;

/** What the heartbeats of a kind of owner, with the same timing, share. */
interface HeartbeatKind<Owner> {
  readonly interval: number;
  readonly timeout: number;
  readonly due: (owner: Owner) => void;
}

/** The kind made last: the next heartbeat made alike (usually every one of a server) shares it. */
// deno-lint-ignore no-explicit-any
let lastKind: HeartbeatKind<any> | null = null;

/**
 * The heartbeat of one connection, and (static) the heap of all of them. The
 * heartbeats of all connections share one timer: a binary min-heap of the
 * heartbeats by due time, and a timer for the earliest. A connection then
 * costs this object instead of a timer object and a closure.
 */
export class Heartbeat<Owner> {
  // deno-lint-ignore no-explicit-any
  static #beats: Heartbeat<any>[] = [];
  static #timer: ReturnType<typeof setTimeout> | undefined;
  static #timerDue = Infinity;

  /** Whether input arrived since the heartbeat last looked (a flag: cheaper than a clock per read). */
  inputSeen = false;
  readonly #owner: Owner;
  /** Its timing and what it calls: shared by the heartbeats made alike (an idle connection keeps one field, not three). */
  readonly #kind: HeartbeatKind<Owner>;
  /** When this heartbeat is due (performance.now()), and its place in the heap (-1: none). */
  #dueAt = 0;
  #index = -1;
  /** When the heartbeat last found that input had arrived (performance.now()). */
  #lastInput = 0;
  /** When the unanswered ping was sent, or 0. */
  #pingAt = 0;

  /**
   * A stopped heartbeat; `due(owner)` is called when it is due (a function
   * shared by all heartbeats of a kind of owner, not a closure each).
   */
  constructor(owner: Owner, interval: number, timeout: number, due: (owner: Owner) => void) {
    this.#owner = owner;
    let kind = lastKind;
    if (kind === null || kind.interval !== interval || kind.timeout !== timeout || kind.due !== due) {
      kind = lastKind = { interval, timeout, due };
    }
    this.#kind = kind as HeartbeatKind<Owner>;
  }

  /** Milliseconds of silence before a ping. */
  get interval(): number {
    return this.#kind.interval;
  }

  /** Milliseconds to wait for any input after that ping. */
  get timeout(): number {
    return this.#kind.timeout;
  }

  /** Starts counting silence from now (the connection opened). */
  start(): void {
    this.inputSeen = false;
    this.#lastInput = performance.now();
    this.#schedule(this.interval / 4);
  }

  /** Stops it; `start()` may follow. */
  stop(): void {
    const i = this.#index;
    if (i === -1) return;
    this.#index = -1;
    const beats = Heartbeat.#beats;
    const last = beats.pop()!;
    if (last !== this) {
      beats[i] = last;
      last.#index = i;
      Heartbeat.#siftUp(i);
      Heartbeat.#siftDown(last.#index);
    }
    Heartbeat.#arm();
  }

  /** Forgets an unanswered ping (a new transport). */
  reset(): void {
    this.#pingAt = 0;
  }

  /**
   * Called by the owner when due: ping after silence, give up after a silent
   * timeout. Schedules the next look unless it returns HEARTBEAT_TIMED_OUT.
   */
  check(): typeof HEARTBEAT_WAIT | typeof HEARTBEAT_PING | typeof HEARTBEAT_TIMED_OUT {
    const { interval, timeout } = this.#kind;
    const now = performance.now();
    // Input is noted by a flag, not a time: while it flows this timer looks
    // every quarter interval, so a ping follows the last input after between
    // `interval` and 1.25 × `interval`.
    const step = interval / 4;
    if (this.inputSeen) {
      this.inputSeen = false;
      this.#lastInput = now;
      this.#pingAt = 0; // the peer is alive
    }
    if (this.#pingAt !== 0) {
      if (now - this.#pingAt >= timeout) return HEARTBEAT_TIMED_OUT;
      this.#schedule(Math.min(step, this.#pingAt + timeout - now));
      return HEARTBEAT_WAIT;
    }
    const idle = now - this.#lastInput;
    if (idle < interval) {
      this.#schedule(Math.min(step, interval - idle));
      return HEARTBEAT_WAIT;
    }
    this.#pingAt = now;
    this.#schedule(Math.min(step, timeout));
    return HEARTBEAT_PING;
  }

  #schedule(delay: number): void {
    const beats = Heartbeat.#beats;
    const due = performance.now() + Math.max(0, delay);
    const earlier = this.#index === -1 || due < this.#dueAt;
    this.#dueAt = due;
    if (this.#index === -1) {
      this.#index = beats.length;
      beats.push(this);
    }
    if (earlier) Heartbeat.#siftUp(this.#index);
    else Heartbeat.#siftDown(this.#index);
    Heartbeat.#arm();
  }

  static #siftUp(i: number): void {
    const beats = Heartbeat.#beats;
    const beat = beats[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (beats[parent].#dueAt <= beat.#dueAt) break;
      beats[i] = beats[parent];
      beats[i].#index = i;
      i = parent;
    }
    beats[i] = beat;
    beat.#index = i;
  }

  static #siftDown(i: number): void {
    const beats = Heartbeat.#beats;
    const beat = beats[i];
    const n = beats.length;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && beats[child + 1].#dueAt < beats[child].#dueAt) child++;
      if (beats[child].#dueAt >= beat.#dueAt) break;
      beats[i] = beats[child];
      beats[i].#index = i;
      i = child;
    }
    beats[i] = beat;
    beat.#index = i;
  }

  /**
   * Sets the shared timer for the earliest heartbeat, unless it is set for
   * that time or earlier: a timer that falls due early finds nothing to do
   * and is set again. (When connections come and go quickly, the earliest
   * heartbeat is the one stopped most of the time: moving the timer later
   * on every stop cost a timer cleared and one set per connection.)
   */
  static #arm(): void {
    const first = Heartbeat.#beats[0];
    const due = first === undefined ? Infinity : first.#dueAt;
    if (due === Heartbeat.#timerDue || (due !== Infinity && due > Heartbeat.#timerDue)) return;
    clearTimeout(Heartbeat.#timer);
    Heartbeat.#timerDue = due;
    Heartbeat.#timer = due === Infinity ? undefined : setTimeout(Heartbeat.#run, Math.max(0, due - performance.now()));
  }

  /** The shared timer: hands every heartbeat that is due to its owner. */
  static #run(): void {
    Heartbeat.#timerDue = Infinity;
    Heartbeat.#timer = undefined;
    const beats = Heartbeat.#beats;
    // A timer may fire a little before performance.now() reaches its due time.
    const now = performance.now() + 1;
    try {
      while (beats.length !== 0 && beats[0].#dueAt <= now) {
        const beat = beats[0];
        beat.stop();
        beat.#kind.due(beat.#owner);
      }
    } finally {
      Heartbeat.#arm();
    }
  }
}
