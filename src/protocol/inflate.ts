/**
 * The DEFLATE decoder (RFC 1951) of permessage-deflate (RFC 7692): pure,
 * synchronous TypeScript with no I/O, so that it runs the same on every
 * runtime (edge isolates included), and so that the size limit is enforced
 * while inflating.
 *
 * One {@linkcode Inflater} per connection and direction decodes one message per
 * call. A message's payload is a sequence of DEFLATE blocks; RFC 7692 §7.2.2
 * has the receiver append `00 00 ff ff` (the LEN/NLEN of the empty stored block
 * that the sender's sync flush produced and §7.2.1 removed), so the message
 * ends exactly at the end of a stored block. A sender may instead end (or
 * flush) with a block whose BFINAL bit is set (§7.2.3.4); see
 * {@linkcode Inflater.inflate} for what may follow such a block.
 *
 * How it is fast without native code:
 * - the whole message is present, so the decoder runs straight through, with
 *   no resumable state machine; the input is read through a 32-bit bit buffer
 *   held in local variables, without per-bit calls;
 * - Huffman codes are decoded through two-level lookup tables in the manner of
 *   zlib's inflate_fast: a 10-bit primary table for literals/lengths and an
 *   8-bit one for distances, with secondary tables for longer codes; the fixed
 *   tables are built once per process, the tables of dynamic blocks are built
 *   into buffers shared by every Inflater (decoding is synchronous, so only one
 *   message is being decoded at a time in a JavaScript realm);
 * - an inner loop runs without end-of-input checks while at least 8 input
 *   bytes and 258 bytes of output room remain; the last bytes go through a
 *   careful loop that also reads the virtual `00 00 ff ff`, so the payload is
 *   never copied;
 * - the bit buffer stays a small non-negative int32 (see `Decoder.hold`);
 * - allocation is what costs most for small messages, so payloads up to 64 KiB
 *   are decoded into one scratch buffer shared by every Inflater, and results
 *   up to 1 KiB are handed out as views into a shared 8 KiB pool (each byte of
 *   a pool is handed out once: a result is never overwritten); bigger results
 *   are exact copies. Bigger payloads are decoded into a buffer of the
 *   payload's size that doubles as needed, never past `maxOutput`, and is
 *   handed over as it is when at least 7/8 full.
 *
 * Memory: an Inflater is about 80 bytes, plus, with context takeover, its
 * 2^windowBits-byte sliding window (32 KiB at the default), allocated when the
 * first non-empty message has been inflated (measured with V8: 83 bytes per
 * instance; 32 KiB + 53 bytes after a first message). Shared by the whole
 * process: the 64 KiB scratch buffer, the 8 KiB pool, and about 60 KiB of
 * tables and work areas.
 *
 * @module
 */

/** Options of an {@linkcode Inflater}: the parameters negotiated for the peer's direction. */
export interface InflaterOptions {
  /**
   * 8..15: base-2 logarithm of the LZ77 window the peer may use
   * (`server_max_window_bits` or `client_max_window_bits`, RFC 7692 §7.1.2).
   * A back-reference further than 2^windowBits bytes is invalid data.
   *
   * @default {15}
   */
  windowBits?: number;
  /**
   * Whether the window carries over between messages. `false` when the peer
   * agreed to `*_no_context_takeover` (RFC 7692 §7.1.1): every message then
   * starts with an empty window and may refer back only into itself.
   */
  contextTakeover: boolean;
}

/**
 * Corrupt or invalid DEFLATE data in a compressed message: a bad block type,
 * bad Huffman code lengths, a stored block whose LEN and NLEN disagree, a
 * distance too far back, data that ends in the middle of a block, and so on.
 * A connection that receives one fails with close code 1007 (RFC 7692 §8.2.3).
 *
 * @example
 * ```ts ignore
 * const inflater = new Inflater({ contextTakeover: false });
 * try {
 *   inflater.inflate(new Uint8Array([0xff]), 1024); // BTYPE 11 is reserved
 * } catch (error) {
 *   console.assert(error instanceof InflateDataError);
 * }
 * ```
 */
export class InflateDataError extends Error {
  /** `"InflateDataError"`. */
  override name = "InflateDataError";
}

/**
 * A compressed message that inflates to more than the allowed size. It is
 * thrown as soon as the output would pass the limit, before the memory is
 * spent; a connection that receives one fails with close code 1009.
 *
 * @example
 * ```ts ignore
 * const inflater = new Inflater({ contextTakeover: false });
 * const hello = new Uint8Array([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
 * try {
 *   inflater.inflate(hello, 4); // "Hello" is 5 bytes
 * } catch (error) {
 *   console.assert(error instanceof InflateLimitError);
 * }
 * ```
 */
export class InflateLimitError extends Error {
  /** `"InflateLimitError"`. */
  override name = "InflateLimitError";
}

// ───────────────────────────── tables ─────────────────────────────

// A table entry is one int: value << 16 | flags | bits.
//   bits 0..3   the number of bits of the code to drop at this level
//   bits 4..7   extra bits of a length or distance, or the index bits of a subtable
//   LEN_DIST    a length (literal/length table) or distance base in the value
//   END         end of block
//   INVALID     a code that may not appear
//   LINK        a pointer to a subtable: the value is its offset in the same array
//   (none)      a literal byte (or a code length symbol) in the value
const LEN_DIST = 0x100;
const END = 0x200;
const INVALID = 0x400;
const LINK = 0x800;
const KIND_MASK = 0xf00;

// RFC 1951 §3.2.5: base values and extra bits of length codes 257..285 and
// distance codes 0..29.
// deno-fmt-ignore
const LENGTH_BASE = [
  3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258
];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
// deno-fmt-ignore
const DIST_BASE = [
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
  6145, 8193, 12289, 16385, 24577
];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
// RFC 1951 §3.2.7: the order in which the code length code lengths are sent.
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** The entry (without its bit count) of every symbol of each kind of code. */
const CODE_ENTRIES = new Int32Array(19);
const LIT_ENTRIES = new Int32Array(288);
const DIST_ENTRIES = new Int32Array(32);
for (let s = 0; s < 19; s++) CODE_ENTRIES[s] = s << 16;
for (let s = 0; s < 288; s++) {
  LIT_ENTRIES[s] = s < 256 ? s << 16 : s === 256 ? END : s < 286 // 286 and 287 exist only in the fixed code, and are invalid
    ? (LENGTH_BASE[s - 257] << 16) | LEN_DIST | (LENGTH_EXTRA[s - 257] << 4)
    : INVALID;
}
for (let s = 0; s < 32; s++) {
  // 30 and 31 exist only in the fixed code, and are invalid
  DIST_ENTRIES[s] = s < 30 ? (DIST_BASE[s] << 16) | LEN_DIST | (DIST_EXTRA[s] << 4) : INVALID;
}

/** Index bits of the primary tables. */
const LIT_ROOT = 10;
const DIST_ROOT = 8;
const CODE_ROOT = 7;
// Each subtable holds at least one code longer than the root, and has at most
// 2^(15 - root) entries; so these sizes cannot be exceeded.
const LIT_TABLE_SIZE = (1 << LIT_ROOT) + 286 * (1 << (15 - LIT_ROOT));
const DIST_TABLE_SIZE = (1 << DIST_ROOT) + 30 * (1 << (15 - DIST_ROOT));

// Work areas of the table builder and the dynamic block reader, shared.
const codeOffset = new Uint16Array(16);
const sortedSymbols = new Uint16Array(288);
const litCounts = new Uint16Array(16);
const distCounts = new Uint16Array(16);
const litSymbols = new Uint16Array(288);
const distSymbols = new Uint16Array(32);
const codeLengths = new Uint8Array(286 + 30);
const codeLengthLengths = new Uint8Array(19);
const codeLengthTable = new Int32Array(1 << CODE_ROOT);
const dynamicLit = new Int32Array(LIT_TABLE_SIZE);
const dynamicDist = new Int32Array(DIST_TABLE_SIZE);

function dataError(what: string): InflateDataError {
  return new InflateDataError(`Cannot inflate the message: ${what}`);
}

/**
 * Lists the symbols with a nonzero code length among `count` lengths at
 * `lengths[start]`, in ascending order, and counts the codes of each length.
 *
 * @returns how many symbols have a code.
 */
function collectCodes(
  lengths: Uint8Array,
  start: number,
  count: number,
  symbols: Uint16Array,
  counts: Uint16Array,
): number {
  for (let len = 0; len < 16; len++) counts[len] = 0;
  let used = 0;
  for (let s = 0; s < count; s++) {
    const len = lengths[start + s];
    if (len !== 0) {
      counts[len]++;
      symbols[used++] = s;
    }
  }
  return used;
}

/**
 * Builds the decoding table of a canonical Huffman code (RFC 1951 §3.2.2),
 * with the rules of zlib's inflate_table: over-subscribed sets are invalid,
 * and so are incomplete ones except a single code of one bit (a
 * literal/length or distance code with only one symbol); a set with no codes
 * at all is allowed for distances only.
 *
 * The code lengths are `lengths[start + s]`; the `used` symbols that have one
 * are listed in ascending order in `symbols`, and `counts[len]` says how many
 * have length `len` (see {@linkcode collectCodes}; `counts` is used up).
 *
 * @returns the number of index bits of the primary table (at most `root`).
 */
function buildTable(
  lengths: Uint8Array,
  start: number,
  symbols: Uint16Array,
  used: number,
  counts: Uint16Array,
  entries: Int32Array,
  table: Int32Array,
  root: number,
): number {
  const offsets = codeOffset;
  const sorted = sortedSymbols;
  let max = 15;
  while (max >= 1 && counts[max] === 0) max--;
  if (max === 0) {
    if (entries !== DIST_ENTRIES) throw dataError("invalid code lengths set (no codes)");
    // A block that uses no distances: any distance code is invalid.
    table[0] = table[1] = INVALID | 1;
    return 1;
  }
  if (root > max) root = max;
  let min = 1;
  while (min < max && counts[min] === 0) min++;
  if (root < min) root = min;

  let left = 1;
  for (let len = 1; len <= 15; len++) {
    left = (left << 1) - counts[len];
    if (left < 0) throw dataError("over-subscribed code lengths set");
  }
  if (left > 0 && (entries === CODE_ENTRIES || max !== 1)) throw dataError("incomplete code lengths set");

  for (let len = min, sum = 0; len <= max; len++) {
    offsets[len] = sum;
    sum += counts[len];
  }
  for (let k = 0; k < used; k++) {
    const symbol = symbols[k];
    sorted[offsets[lengths[start + symbol]]++] = symbol;
  }

  // Walk the codes in canonical order, keeping `huff` as the current code
  // with its bits reversed (DEFLATE sends Huffman codes most significant bit
  // first), and fill every table entry whose low bits match it.
  let huff = 0;
  let sym = 0;
  let len = min;
  let next = 0; // offset of the (sub)table being filled
  let curr = root; // its index bits
  let drop = 0; // bits consumed by the primary table (0 while filling it)
  let low = -1; // the primary index of the current subtable
  const mask = (1 << root) - 1;
  for (;;) {
    const here = entries[sorted[sym]] | (len - drop);
    const step = 1 << (len - drop);
    const size = 1 << curr;
    const base = next + (huff >> drop);
    for (let fill = size - step; fill >= 0; fill -= step) table[base + fill] = here;

    // Increment the reversed len-bit code.
    let incr = 1 << (len - 1);
    while (huff & incr) incr >>= 1;
    huff = incr !== 0 ? (huff & (incr - 1)) + incr : 0;

    sym++;
    if (--counts[len] === 0) {
      if (len === max) break;
      len = lengths[start + sorted[sym]];
    }

    if (len > root && (huff & mask) !== low) {
      if (drop === 0) drop = root;
      next += size;
      // The smallest subtable that the remaining codes fill completely.
      curr = len - drop;
      let room = 1 << curr;
      while (curr + drop < max) {
        room -= counts[curr + drop];
        if (room <= 0) break;
        curr++;
        room <<= 1;
      }
      low = huff & mask;
      table[low] = (next << 16) | LINK | (curr << 4) | root;
    }
  }
  // An incomplete code (a single one-bit code) leaves exactly one entry.
  if (huff !== 0) table[next + huff] = INVALID | (len - drop);
  return root;
}

let fixedLit: Int32Array = new Int32Array(0);
let fixedDist: Int32Array = new Int32Array(0);
let fixedLitBits = 0;
let fixedDistBits = 0;

/** RFC 1951 §3.2.6: the fixed Huffman codes, built once per process. */
function buildFixedTables(): void {
  const lengths = new Uint8Array(288);
  lengths.fill(8, 0, 144);
  lengths.fill(9, 144, 256);
  lengths.fill(7, 256, 280);
  lengths.fill(8, 280, 288);
  const lit = new Int32Array(1 << 9);
  let used = collectCodes(lengths, 0, 288, litSymbols, litCounts);
  fixedLitBits = buildTable(lengths, 0, litSymbols, used, litCounts, LIT_ENTRIES, lit, LIT_ROOT);
  lengths.fill(5, 0, 32);
  const dist = new Int32Array(1 << 5);
  used = collectCodes(lengths, 0, 32, distSymbols, distCounts);
  fixedDistBits = buildTable(lengths, 0, distSymbols, used, distCounts, DIST_ENTRIES, dist, DIST_ROOT);
  fixedLit = lit;
  fixedDist = dist;
}

// ───────────────────────────── the decoder ─────────────────────────────

/** The appended `00 00 ff ff` (RFC 7692 §7.2.2) is this many bytes. */
const TRAILER_LENGTH = 4;
const EMPTY = new Uint8Array(0);
/** Output of messages up to this size is decoded in a buffer shared by every Inflater. */
const SCRATCH_SIZE = 1 << 16;
/**
 * Results up to POOLED_MAX bytes are views into a shared POOL_SIZE-byte pool
 * (each byte of a pool is handed out once), as Buffer pools do: one
 * allocation of a small ArrayBuffer costs more than inflating a small message.
 */
const POOL_SIZE = 1 << 13;
const POOLED_MAX = 1 << 10;

/** Byte `t` of what follows the payload: `00 00 ff ff`, then zeros (caught as truncation). */
function trailerByte(t: number): number {
  return t === 2 || t === 3 ? 0xff : 0;
}

function truncated(): InflateDataError {
  return dataError(
    "the data ends in the middle of a block (RFC 7692 §7.2.1: a message ends with an empty stored block " +
      "whose 00 00 ff ff the sender removed)",
  );
}

/**
 * The state of the message being decoded. Decoding is synchronous, so one
 * Decoder serves every Inflater; the hot loop copies its fields into locals.
 */
class Decoder {
  /** The payload; `00 00 ff ff` follows it virtually, then zeros. */
  src: Uint8Array = EMPTY;
  srcLength = 0;
  /** Bits in the payload with the trailer appended. */
  totalBits = 0;
  /** The next byte to load into the bit buffer. */
  ip = 0;
  /**
   * The bit buffer: `bits` bits, the next one lowest. It never holds more than
   * 30 bits (every refill starts below 15), so it stays a non-negative int32;
   * hence `>>` rather than `>>>`, which V8 would widen to a double here (a
   * measured 20 % of the decoding time).
   */
  hold = 0;
  bits = 0;
  /** The output so far: `op` bytes of `out`; never more than `limit` bytes. */
  out: Uint8Array = EMPTY;
  op = 0;
  limit = 0;
  /** The history before this message: a ring of `windowSize` bytes, `windowHave` valid, the next write at `windowNext`. */
  window: Uint8Array = EMPTY;
  windowSize = 0;
  windowHave = 0;
  windowNext = 0;
  /** Index bits of the current dynamic tables. */
  litBits = 0;
  distBits = 0;
  /** The shared output buffer of messages up to SCRATCH_SIZE bytes; `out` is (a view of) it while `inScratch`. */
  scratch: Uint8Array = EMPTY;
  inScratch = false;
  /** The pool of small results: `poolUsed` bytes of it are handed out. */
  pool: Uint8Array = EMPTY;
  poolUsed = 0;
  /** The largest output buffer allocated since the last reset (a test hook). */
  largest = 0;

  checkOverrun(): void {
    if (this.ip * 8 - this.bits > this.totalBits) throw truncated();
  }

  /** Takes `n` (≤ 16) bits. */
  take(n: number): number {
    let hold = this.hold;
    let bits = this.bits;
    while (bits < n) {
      const ip = this.ip++;
      hold |= (ip < this.srcLength ? this.src[ip] : trailerByte(ip - this.srcLength)) << bits;
      bits += 8;
    }
    this.hold = hold >> n;
    this.bits = bits - n;
    return hold & ((1 << n) - 1);
  }

  /** Drops the bits up to the next byte boundary and gives back the whole bytes still buffered. */
  alignToByte(): void {
    this.ip -= this.bits >> 3;
    this.hold = 0;
    this.bits = 0;
  }

  /** Makes room for `need` bytes of output in all, or throws when that is over the limit. */
  grow(need: number): Uint8Array {
    if (need > this.limit) {
      throw new InflateLimitError(`Cannot inflate the message: it inflates to more than ${this.limit} bytes`);
    }
    let size = Math.max(this.out.length * 2, need, 1024);
    if (size > this.limit) size = this.limit;
    const bigger = new Uint8Array(size);
    if (size > this.largest) this.largest = size;
    bigger.set(this.out.subarray(0, this.op));
    this.out = bigger;
    this.inScratch = false;
    return bigger;
  }

  /**
   * Gets the output buffer ready for a message whose payload has `size` bytes:
   * the shared scratch buffer, or (for big payloads) a buffer of the payload's
   * size, which then doubles as needed: a guess that costs nothing for
   * incompressible data and a few copies for text.
   */
  start(size: number, limit: number): void {
    this.op = 0;
    this.limit = limit;
    if (size <= SCRATCH_SIZE || limit <= SCRATCH_SIZE) {
      if (this.scratch.length === 0) this.scratch = new Uint8Array(SCRATCH_SIZE);
      this.out = limit < SCRATCH_SIZE ? this.scratch.subarray(0, limit) : this.scratch;
      this.inScratch = true;
    } else {
      const length = Math.min(size, limit);
      this.out = new Uint8Array(length);
      this.inScratch = false;
      if (length > this.largest) this.largest = length;
    }
  }

  /** The output, in a buffer that the caller owns. */
  result(): Uint8Array {
    const out = this.out;
    const length = this.op;
    if (!this.inScratch) {
      // A grown buffer: hand it over as it is when little of it is unused.
      return length === out.length
        ? out
        : length >= out.length - (out.length >> 3)
        ? out.subarray(0, length)
        : out.slice(0, length);
    }
    if (length > POOLED_MAX) return out.slice(0, length);
    if (length === 0) return new Uint8Array(0);
    if (this.poolUsed + length > this.pool.length) {
      this.pool = new Uint8Array(POOL_SIZE);
      this.poolUsed = 0;
    }
    const pool = this.pool;
    const at = this.poolUsed;
    if (length <= 64) {
      for (let i = 0; i < length; i++) pool[at + i] = out[i];
    } else {
      pool.set(out.subarray(0, length), at);
    }
    this.poolUsed = (at + length + 7) & ~7;
    return pool.subarray(at, at + length);
  }

  /** Decodes blocks up to the end of the message (see {@linkcode Inflater.inflate}). */
  run(): void {
    for (;;) {
      const header = this.take(3);
      const type = header >> 1;
      this.checkOverrun();
      if (type === 0) {
        this.stored();
      } else if (type === 1) {
        if (fixedLitBits === 0) buildFixedTables();
        this.huffman(fixedLit, fixedLitBits, fixedDist, fixedDistBits);
      } else if (type === 2) {
        this.dynamic();
        this.huffman(dynamicLit, this.litBits, dynamicDist, this.distBits);
      } else {
        throw dataError("invalid block type 3");
      }
      if (header & 1) {
        // The end of a DEFLATE stream (RFC 7692 §7.2.3.4): the appended
        // 00 00 ff ff need not be read.
        this.alignToByte();
        if (this.ip === this.srcLength) return;
      }
      // The end of the message: where the appended bytes end (after a stored block).
      if (this.ip * 8 - this.bits === this.totalBits) return;
    }
  }

  /** RFC 1951 §3.2.4: a stored block; the header bits are taken. */
  stored(): void {
    this.alignToByte();
    const src = this.src;
    const n = this.srcLength;
    let ip = this.ip;
    if (ip + 4 > n + TRAILER_LENGTH) throw truncated();
    const b0 = ip < n ? src[ip] : trailerByte(ip - n);
    const b1 = ip + 1 < n ? src[ip + 1] : trailerByte(ip + 1 - n);
    const b2 = ip + 2 < n ? src[ip + 2] : trailerByte(ip + 2 - n);
    const b3 = ip + 3 < n ? src[ip + 3] : trailerByte(ip + 3 - n);
    const length = b0 | (b1 << 8);
    const complement = b2 | (b3 << 8);
    if (length !== (~complement & 0xffff)) {
      throw dataError(`invalid stored block lengths (LEN ${length}, NLEN ${complement})`);
    }
    ip += 4;
    const end = ip + length;
    if (end > n + TRAILER_LENGTH) throw truncated();
    let op = this.op;
    const out = op + length > this.out.length ? this.grow(op + length) : this.out;
    if (end <= n && length > 64) {
      out.set(src.subarray(ip, end), op);
      op += length;
    } else {
      for (; ip < end; ip++) out[op++] = ip < n ? src[ip] : trailerByte(ip - n);
    }
    this.ip = end;
    this.op = op;
  }

  /** RFC 1951 §3.2.7: the code lengths of a dynamic block, into the dynamic tables. */
  dynamic(): void {
    const src = this.src;
    const n = this.srcLength;
    let ip = this.ip;
    let hold = this.hold;
    let bits = this.bits;
    while (bits < 14) {
      hold |= (ip < n ? src[ip] : trailerByte(ip - n)) << bits;
      ip++;
      bits += 8;
    }
    const nlen = (hold & 31) + 257;
    const ndist = ((hold >> 5) & 31) + 1;
    const ncode = ((hold >> 10) & 15) + 4;
    hold >>= 14;
    bits -= 14;
    if (nlen > 286 || ndist > 30) {
      throw dataError(`too many length or distance symbols (${nlen}, ${ndist})`);
    }
    for (let i = 0; i < 19; i++) codeLengthLengths[i] = 0;
    for (let i = 0; i < ncode; i++) {
      if (bits < 3) {
        hold |= (ip < n ? src[ip] : trailerByte(ip - n)) << bits;
        ip++;
        bits += 8;
      }
      codeLengthLengths[CODE_LENGTH_ORDER[i]] = hold & 7;
      hold >>= 3;
      bits -= 3;
    }
    const codes = collectCodes(codeLengthLengths, 0, 19, litSymbols, litCounts);
    const codeBits = buildTable(
      codeLengthLengths,
      0,
      litSymbols,
      codes,
      litCounts,
      CODE_ENTRIES,
      codeLengthTable,
      CODE_ROOT,
    );
    const codeMask = (1 << codeBits) - 1;
    const total = nlen + ndist;
    const lengths = codeLengths;
    // Count the codes of each length, and list the symbols that have one, as
    // they arrive: buildTable then never walks the (mostly zero) lengths.
    for (let len = 0; len < 16; len++) litCounts[len] = distCounts[len] = 0;
    let lits = 0;
    let dists = 0;
    let previous = -1; // the last length, for code 16
    let i = 0;
    while (i < total) {
      // A code (≤ 7 bits) and its repeat count (≤ 7 bits).
      while (bits < 14) {
        hold |= (ip < n ? src[ip] : trailerByte(ip - n)) << bits;
        ip++;
        bits += 8;
      }
      const entry = codeLengthTable[hold & codeMask];
      hold >>= entry & 15;
      bits -= entry & 15;
      const symbol = entry >> 16;
      let value = symbol;
      let repeat = 1;
      if (symbol === 16) {
        if (previous < 0) throw dataError("invalid bit length repeat (nothing to repeat)");
        value = previous;
        repeat = 3 + (hold & 3);
        hold >>= 2;
        bits -= 2;
      } else if (symbol === 17) {
        value = 0;
        repeat = 3 + (hold & 7);
        hold >>= 3;
        bits -= 3;
      } else if (symbol === 18) {
        value = 0;
        repeat = 11 + (hold & 127);
        hold >>= 7;
        bits -= 7;
      }
      const end = i + repeat;
      if (end > total) throw dataError("invalid bit length repeat (past the last code)");
      previous = value;
      if (value === 0) {
        // Zero lengths are not written: only the listed symbols' lengths are read.
        i = end;
      } else {
        for (; i < end; i++) {
          lengths[i] = value;
          if (i < nlen) {
            litCounts[value]++;
            litSymbols[lits++] = i;
          } else {
            distCounts[value]++;
            distSymbols[dists++] = i - nlen;
          }
        }
      }
    }
    this.ip = ip;
    this.hold = hold;
    this.bits = bits;
    this.checkOverrun();
    // RFC 1951 §3.2.7: "the code for end-of-block (256) is always present" (and 256 < nlen).
    let k = lits - 1;
    while (k > 0 && litSymbols[k] > 256) k--; // the symbols are in ascending order
    if (k < 0 || litSymbols[k] !== 256) throw dataError("invalid code lengths set (no end-of-block code)");
    this.litBits = buildTable(lengths, 0, litSymbols, lits, litCounts, LIT_ENTRIES, dynamicLit, LIT_ROOT);
    this.distBits = buildTable(lengths, nlen, distSymbols, dists, distCounts, DIST_ENTRIES, dynamicDist, DIST_ROOT);
  }

  /**
   * RFC 1951 §3.2.5: the symbols of one Huffman-coded block, up to its end of
   * block code. A fast loop runs without bounds checks while at least 8 bytes
   * of the payload and 258 bytes of output room remain (a symbol and its
   * distance take at most 48 bits); a careful one does the rest, reading the
   * virtual trailer and growing the output.
   */
  huffman(lit: Int32Array, litBits: number, dist: Int32Array, distBits: number): void {
    const input = this.src;
    const n = this.srcLength;
    const fastInEnd = n - 8;
    const overrunAt = n + TRAILER_LENGTH;
    const totalBits = this.totalBits;
    const litMask = (1 << litBits) - 1;
    const distMask = (1 << distBits) - 1;
    const wsize = this.windowSize;
    let ip = this.ip;
    let hold = this.hold;
    let bits = this.bits;
    let output = this.out;
    let op = this.op;
    let fastOutEnd = output.length - 258;

    // One loop for both paths (a nested fast loop gets optimized on its own by
    // on-stack replacement, and leaving such a loop deoptimizes).
    for (;;) {
      // ── The fast path: no end-of-input checks.
      if (ip <= fastInEnd && op <= fastOutEnd) {
        if (bits < 15) {
          hold |= (input[ip] << bits) | (input[ip + 1] << (bits + 8));
          ip += 2;
          bits += 16;
        }
        let e = lit[hold & litMask];
        if (e & LINK) {
          hold >>= e & 15;
          bits -= e & 15;
          e = lit[(e >> 16) + (hold & ((1 << ((e >> 4) & 15)) - 1))];
        }
        hold >>= e & 15;
        bits -= e & 15;
        if ((e & KIND_MASK) === 0) {
          output[op++] = e >> 16;
          continue;
        }
        if ((e & LEN_DIST) === 0) {
          this.ip = ip;
          this.hold = hold;
          this.bits = bits;
          this.op = op;
          if (e & END) return;
          throw dataError("invalid literal/length code");
        }
        let length = e >> 16;
        let extra = (e >> 4) & 15;
        if (extra !== 0) {
          if (bits < extra) {
            hold |= input[ip++] << bits;
            bits += 8;
          }
          length += hold & ((1 << extra) - 1);
          hold >>= extra;
          bits -= extra;
        }
        if (bits < 15) {
          hold |= (input[ip] << bits) | (input[ip + 1] << (bits + 8));
          ip += 2;
          bits += 16;
        }
        let d = dist[hold & distMask];
        if (d & LINK) {
          hold >>= d & 15;
          bits -= d & 15;
          d = dist[(d >> 16) + (hold & ((1 << ((d >> 4) & 15)) - 1))];
        }
        hold >>= d & 15;
        bits -= d & 15;
        if ((d & LEN_DIST) === 0) throw dataError("invalid distance code");
        let distance = d >> 16;
        extra = (d >> 4) & 15;
        if (extra !== 0) {
          if (bits < extra) {
            hold |= (input[ip] << bits) | (input[ip + 1] << (bits + 8));
            ip += 2;
            bits += 16;
          }
          distance += hold & ((1 << extra) - 1);
          hold >>= extra;
          bits -= extra;
        }
        if (distance <= op && distance <= wsize) {
          let from = op - distance;
          if (length > 32 && distance >= length) {
            output.copyWithin(op, from, from + length);
            op += length;
          } else {
            const end = op + length;
            while (op < end) output[op++] = output[from++];
          }
        } else {
          op = this.fromHistory(output, op, distance, length);
        }
        continue;
      }

      // ── The careful path: one symbol.
      while (bits < 15) {
        hold |= (ip < n ? input[ip] : trailerByte(ip - n)) << bits;
        ip++;
        bits += 8;
      }
      let e = lit[hold & litMask];
      if (e & LINK) {
        hold >>= e & 15;
        bits -= e & 15;
        e = lit[(e >> 16) + (hold & ((1 << ((e >> 4) & 15)) - 1))];
      }
      hold >>= e & 15;
      bits -= e & 15;
      let length = e >> 16;
      const extra = (e >> 4) & 15;
      if ((e & LEN_DIST) !== 0 && extra !== 0) {
        while (bits < extra) {
          hold |= (ip < n ? input[ip] : trailerByte(ip - n)) << bits;
          ip++;
          bits += 8;
        }
        length += hold & ((1 << extra) - 1);
        hold >>= extra;
        bits -= extra;
      }
      // Past the trailer, the bits read are zeros that are not there.
      if (ip > overrunAt && ip * 8 - bits > totalBits) throw truncated();
      if ((e & KIND_MASK) === 0) {
        if (op >= output.length) {
          this.op = op;
          output = this.grow(op + 1);
          fastOutEnd = output.length - 258;
        }
        output[op++] = length;
        continue;
      }
      if ((e & LEN_DIST) === 0) {
        this.ip = ip;
        this.hold = hold;
        this.bits = bits;
        this.op = op;
        if (e & END) return;
        throw dataError("invalid literal/length code");
      }
      while (bits < 15) {
        hold |= (ip < n ? input[ip] : trailerByte(ip - n)) << bits;
        ip++;
        bits += 8;
      }
      let d = dist[hold & distMask];
      if (d & LINK) {
        hold >>= d & 15;
        bits -= d & 15;
        d = dist[(d >> 16) + (hold & ((1 << ((d >> 4) & 15)) - 1))];
      }
      hold >>= d & 15;
      bits -= d & 15;
      let distance = d >> 16;
      const dextra = (d >> 4) & 15;
      if ((d & LEN_DIST) !== 0 && dextra !== 0) {
        while (bits < dextra) {
          hold |= (ip < n ? input[ip] : trailerByte(ip - n)) << bits;
          ip++;
          bits += 8;
        }
        distance += hold & ((1 << dextra) - 1);
        hold >>= dextra;
        bits -= dextra;
      }
      if (ip > overrunAt && ip * 8 - bits > totalBits) throw truncated();
      if ((d & LEN_DIST) === 0) throw dataError("invalid distance code");
      if (op + length > output.length) {
        this.op = op;
        output = this.grow(op + length);
        fastOutEnd = output.length - 258;
      }
      if (distance <= op && distance <= wsize) {
        let from = op - distance;
        const end = op + length;
        while (op < end) output[op++] = output[from++];
      } else {
        op = this.fromHistory(output, op, distance, length);
      }
    }
  }

  /** A match that reaches back before this message, into the window (or is invalid). */
  fromHistory(output: Uint8Array, op: number, distance: number, length: number): number {
    const size = this.windowSize;
    if (distance > size) {
      throw dataError(`invalid distance ${distance}: beyond the window of ${size} bytes`);
    }
    if (distance > op + this.windowHave) {
      throw dataError(
        `invalid distance too far back (${distance}, with ${op + this.windowHave} bytes of history)`,
      );
    }
    const ring = this.window;
    const ringMask = size - 1;
    const back = distance - op; // bytes before this message
    let at = (this.windowNext - back) & ringMask;
    const fromRing = back < length ? back : length;
    for (let i = 0; i < fromRing; i++) {
      output[op++] = ring[at];
      at = (at + 1) & ringMask;
    }
    let from = 0;
    for (let i = fromRing; i < length; i++) output[op++] = output[from++];
    return op;
  }
}

const decoder = new Decoder();

// ───────────────────────────── the Inflater ─────────────────────────────

const OPTION_KEYS = new Set(["windowBits", "contextTakeover"]);

/**
 * Decompresses the messages of one direction of a permessage-deflate
 * connection (RFC 7692 §7.2.2), one whole message per call, synchronously.
 *
 * With `contextTakeover` it keeps the last 2^windowBits bytes of output (the
 * LZ77 sliding window) for the next message; that window is allocated lazily,
 * and is the only sizeable memory an Inflater holds.
 *
 * @example Two messages with context takeover (RFC 7692 §7.2.3.2)
 * ```ts ignore
 * const inflater = new Inflater({ contextTakeover: true });
 * const first = inflater.inflate(new Uint8Array([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]), 1 << 20);
 * const second = inflater.inflate(new Uint8Array([0xf2, 0x00, 0x11, 0x00, 0x00]), 1 << 20);
 * new TextDecoder().decode(first);  // "Hello"
 * new TextDecoder().decode(second); // "Hello", a back-reference into the first message
 * ```
 */
export class Inflater {
  readonly #windowSize: number;
  readonly #contextTakeover: boolean;
  #window: Uint8Array | null = null;
  #windowHave = 0;
  #windowNext = 0;
  #failure: string | null = null;

  /**
   * Creates the decoder of one direction of a connection.
   *
   * @param options The parameters negotiated for the peer's direction.
   * @throws {TypeError} when `options` is not an object with a boolean
   *   `contextTakeover` and no other keys than those of {@linkcode InflaterOptions}.
   * @throws {RangeError} when `windowBits` is not an integer from 8 to 15.
   */
  constructor(options: InflaterOptions) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError("Cannot create an Inflater: options must be an object like { contextTakeover: true }");
    }
    for (const key of Object.keys(options)) {
      if (!OPTION_KEYS.has(key)) {
        throw new TypeError(
          `Cannot create an Inflater: unknown option "${key}" (expected windowBits, contextTakeover)`,
        );
      }
    }
    const { windowBits = 15, contextTakeover } = options;
    if (typeof contextTakeover !== "boolean") {
      throw new TypeError("Cannot create an Inflater: options.contextTakeover must be true or false");
    }
    if (!Number.isInteger(windowBits) || windowBits < 8 || windowBits > 15) {
      throw new RangeError(
        `Cannot create an Inflater: options.windowBits must be an integer from 8 to 15, got ${String(windowBits)}`,
      );
    }
    this.#windowSize = 1 << windowBits;
    this.#contextTakeover = contextTakeover;
  }

  /**
   * Inflates ONE message: `payload` is the concatenated payload of the
   * message's frames, without the `00 00 ff ff` that the sender removed
   * (RFC 7692 §7.2.1); the decoder behaves as if it were appended (§7.2.2).
   *
   * The message is a sequence of DEFLATE blocks (stored, fixed or dynamic
   * Huffman, §7.2.3.5) and must end where the appended bytes complete an empty
   * stored block. A block with BFINAL set (§7.2.3.4) ends a DEFLATE stream;
   * after it, and after the padding to the next byte, either nothing may
   * follow (the appended bytes are then not read) or more blocks "in the same
   * manner as messages flushed using DEFLATE blocks with BFINAL unset", as in
   * the RFC's own example `f3 48 cd c9 c9 07 00 00`, whose last octet starts
   * the empty stored block. With context takeover the window carries over in
   * every case; BFINAL does not reset it. An empty payload is an empty
   * message (what a zlib sender produces for an empty message after a flush).
   *
   * @param payload The compressed message. Not modified, not kept.
   * @param maxOutput The most bytes the message may inflate to: a
   *   non-negative integer, or `Infinity`. The output buffer never grows past
   *   it, so a small payload that would inflate to gigabytes fails after at
   *   most `maxOutput` bytes were produced.
   * @returns The message's bytes, in a new `Uint8Array` that the caller owns:
   *   nothing else ever writes to it. It may be a view into a larger
   *   `ArrayBuffer` (a shared pool for results up to 1 KiB, or a nearly full
   *   output buffer), as Buffers often are: mind `byteOffset` when using `.buffer`.
   * @throws {InflateDataError} for invalid data (close code 1007).
   * @throws {InflateLimitError} when the output would exceed `maxOutput` (close code 1009).
   * @throws {TypeError} for a payload that is not a `Uint8Array`, or when an
   *   earlier call failed: a failed Inflater stays failed.
   * @throws {RangeError} for a bad `maxOutput`.
   *
   * @example
   * ```ts ignore
   * const inflater = new Inflater({ windowBits: 15, contextTakeover: false });
   * const bytes = inflater.inflate(new Uint8Array([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]), 1 << 20);
   * new TextDecoder().decode(bytes); // "Hello"
   * ```
   */
  inflate(payload: Uint8Array, maxOutput: number): Uint8Array {
    if (this.#failure !== null) {
      throw new TypeError(`Cannot inflate: this Inflater failed on an earlier message (${this.#failure})`);
    }
    if (!(payload instanceof Uint8Array)) {
      throw new TypeError("Cannot inflate: the payload must be a Uint8Array");
    }
    if (!(maxOutput >= 0) || (maxOutput !== Infinity && !Number.isInteger(maxOutput))) {
      throw new RangeError(
        `Cannot inflate: maxOutput must be a non-negative integer or Infinity, got ${String(maxOutput)}`,
      );
    }
    if (payload.length === 0) return new Uint8Array(0);
    const d = decoder;
    try {
      d.src = payload;
      d.srcLength = payload.length;
      d.totalBits = (payload.length + TRAILER_LENGTH) * 8;
      d.ip = 0;
      d.hold = 0;
      d.bits = 0;
      d.start(payload.length, maxOutput);
      d.windowSize = this.#windowSize;
      d.window = this.#window ?? EMPTY;
      d.windowHave = this.#windowHave;
      d.windowNext = this.#windowNext;
      d.run();
      if (this.#contextTakeover && d.op > 0) this.#remember(d.out, d.op);
      return d.result();
    } catch (error) {
      this.#failure = error instanceof Error ? error.message : String(error);
      throw error;
    } finally {
      // Let go of the caller's buffers.
      d.src = EMPTY;
      d.out = EMPTY;
      d.window = EMPTY;
    }
  }

  /** Appends the message's last bytes to the sliding window (a ring of 2^windowBits bytes). */
  #remember(output: Uint8Array, length: number): void {
    const size = this.#windowSize;
    const ring = this.#window ??= new Uint8Array(size);
    if (length >= size) {
      ring.set(output.subarray(length - size, length));
      this.#windowNext = 0;
      this.#windowHave = size;
      return;
    }
    let at = this.#windowNext;
    if (length <= 32) {
      for (let i = 0; i < length; i++) {
        ring[at] = output[i];
        at = (at + 1) & (size - 1);
      }
    } else {
      const first = Math.min(length, size - at);
      ring.set(output.subarray(0, first), at);
      if (first < length) ring.set(output.subarray(first, length), 0);
      at = (at + length) & (size - 1);
    }
    this.#windowNext = at;
    this.#windowHave = Math.min(size, this.#windowHave + length);
  }
}

/**
 * Test hook: the size of the largest output buffer allocated by any Inflater
 * since the last call, and resets it. Not counted: the shared 64 KiB scratch
 * buffer and 8 KiB pool, and the final copy of a result (its exact size). Lets
 * tests check that a compression bomb never allocates much more than
 * `maxOutput`.
 *
 * @example
 * ```ts ignore
 * _largestAllocation(); // reset
 * // ... inflate ...
 * console.assert(_largestAllocation() <= 1 << 20);
 * ```
 */
export function _largestAllocation(): number {
  const value = decoder.largest;
  decoder.largest = 0;
  return value;
}
