/**
 * A synchronous DEFLATE (RFC 1951) encoder for permessage-deflate (RFC 7692).
 *
 * `Deflater.compress(message)` turns one WebSocket message into the payload of
 * a compressed frame: raw DEFLATE blocks with BFINAL = 0, ended by a sync flush
 * whose empty stored block `00 00 ff ff` is removed (RFC 7692 §7.2.1). It is
 * pure TypeScript over `Uint8Array`, with no I/O, no timers and no runtime API,
 * so it runs unchanged on every runtime and edge platform and gives the same
 * bytes on each; the runtimes' zlib bindings cannot compress one message at a
 * time synchronously while keeping the sliding window (context takeover).
 *
 * How it works, as zlib does it:
 * - LZ77 over a window buffer of 2 × 2^windowBits bytes, with 3-byte hash
 *   chains (`head`, `prev`), a maximum chain length per level, and lazy
 *   matching (levels 4–9) or greedy matching (levels 1–3).
 * - Literals and matches are collected into blocks of at most 16,384 symbols;
 *   each block is sent as whichever of stored, fixed Huffman or dynamic Huffman
 *   is smallest, computed exactly in bits. Dynamic codes are canonical,
 *   length-limited (15 bits; 7 for the code-length code) and their lengths
 *   are run-length coded (symbols 16, 17, 18). Consecutive stored blocks are
 *   merged, so incompressible data costs 5 bytes per 65,535 bytes.
 * - A match never reaches further back than 2^windowBits − 1 bytes, nor before
 *   the first byte this deflater compressed; without context takeover, never
 *   before the current message. `windowBits: 8` really means a 256-byte window
 *   (zlib quietly uses 512 for raw deflate).
 *
 * Memory: nothing is allocated before the first `compress`. With context
 * takeover an instance then keeps its window buffer (2 × 2^windowBits bytes,
 * at least 4 KiB), the chain links (2 × 2^windowBits bytes) and the hash
 * heads (2 × 2^(windowBits − 1) bytes, at least 512): 160 KiB at windowBits
 * 15 (zlib's deflate state takes about 256 KiB at its defaults), 80 KiB at
 * 14, 40 KiB at 13, 20 KiB at 12 and 5 to 10 KiB below. Without context
 * takeover an instance holds nothing between messages: all such instances
 * with the same windowBits share one set of tables. The symbol buffer
 * (64 KiB), the Huffman tables (a few KiB) and the output buffer (64 KiB,
 * grown for a large message and kept up to 1 MiB) are shared by every
 * instance: `compress` is synchronous and never re-entered.
 *
 * @example
 * ```ts ignore
 * const deflater = new Deflater({ contextTakeover: true });
 * const payload = deflater.compress(new TextEncoder().encode("Hello"));
 * // payload: f2 48 cd c9 c9 07 00 (RFC 7692 §7.2.3.1); send it with RSV1 set
 * ```
 *
 * @module
 */

// ───────────────────────────── constants ─────────────────────────────

/** RFC 1951 §3.2.5: the shortest and longest match. */
const MIN_MATCH = 3;
const MAX_MATCH = 258;
/**
 * The lookahead the match finder wants before it looks for a match: a whole
 * longest match plus the bytes of the next hash. Below it, more input is
 * copied into the window (when the message has more).
 */
const MIN_LOOKAHEAD = MAX_MATCH + MIN_MATCH + 1;
/** zlib: a match of length 3 this far back costs more than three literals. */
const TOO_FAR = 4096;
/** RFC 1951 §3.2.5: literal/length codes 0..285 (286, 287 never occur). */
const L_CODES = 286;
/** RFC 1951 §3.2.5: distance codes 0..29. */
const D_CODES = 30;
/** RFC 1951 §3.2.7: code-length codes 0..18. */
const BL_CODES = 19;
const END_BLOCK = 256;
/** RFC 1951 §3.2.7: codes are at most 15 bits, code-length codes at most 7. */
const MAX_BITS = 15;
const MAX_BL_BITS = 7;
/** RFC 1951 §3.2.4: a stored block holds at most 65,535 bytes. */
const MAX_STORED = 65535;
/** The bits of a stored block besides its data: 3 header bits are counted apart, LEN and NLEN here. */
const STORED_LEN_BITS = 32;
/** Symbols per block (zlib's lit_bufsize at memLevel 8): bounds the block and the symbol buffer. */
const SYM_BUF_SIZE = 1 << 14;
/** The output buffer starts at this size and grows with the output. */
const OUT_INITIAL = 1 << 16;
/** A larger output buffer than this, made for a big message, is dropped after it. */
const OUT_KEEP = 1 << 20;
/** The least window buffer: a small window then slides every few KiB, not every few hundred bytes. */
const MIN_BUFFER = 1 << 12;

/** RFC 1951 §3.2.5: extra bits of the length codes 257..285. */
const EXTRA_LBITS = new Uint8Array([
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  1,
  1,
  1,
  1,
  2,
  2,
  2,
  2,
  3,
  3,
  3,
  3,
  4,
  4,
  4,
  4,
  5,
  5,
  5,
  5,
  0,
]);
/** RFC 1951 §3.2.5: extra bits of the distance codes 0..29. */
const EXTRA_DBITS = new Uint8Array([
  0,
  0,
  0,
  0,
  1,
  1,
  2,
  2,
  3,
  3,
  4,
  4,
  5,
  5,
  6,
  6,
  7,
  7,
  8,
  8,
  9,
  9,
  10,
  10,
  11,
  11,
  12,
  12,
  13,
  13,
]);
/** RFC 1951 §3.2.7: the order in which the code-length code lengths are sent. */
const BL_ORDER = new Uint8Array([16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]);

/** Length code index (0..28) of each match length − 3. */
const LENGTH_CODE = new Uint8Array(256);
/** First match length − 3 of each length code. */
const BASE_LENGTH = new Uint16Array(29);
/** Distance code of distance − 1 below 256, then of (distance − 1) >> 7 at 256 + that. */
const DIST_CODE = new Uint8Array(512);
/** First distance − 1 of each distance code. */
const BASE_DIST = new Uint16Array(D_CODES);
/** Bit reversal of a byte (Huffman codes are sent most significant bit first). */
const REVERSE_BYTE = new Uint8Array(256);

/** RFC 1951 §3.2.6: the fixed Huffman codes (bit-reversed) and lengths. */
const FIXED_LCODES = new Uint16Array(288);
const FIXED_LLENS = new Uint8Array(288);
const FIXED_DCODES = new Uint16Array(D_CODES);
const FIXED_DLENS = new Uint8Array(D_CODES).fill(5);

/**
 * Compression levels, in zlib's terms: [good length, max lazy, nice length,
 * max chain, lazy?]. Past `good` the chain is searched a quarter as far; a
 * match of `maxLazy` or more is taken without looking one byte further
 * (greedy levels: matches up to this length have all their positions
 * hashed); a match of `nice` stops the search; at most `chain` candidates are
 * tried. Levels 1–5 are zlib's; 6 searches between zlib's 5 and 6 (zlib's 6
 * costs half the speed here for 1.5 % less output on JSON); 7 is zlib's 6; 8
 * and 9 are zlib's.
 */
type LevelConfig = readonly [good: number, maxLazy: number, nice: number, chain: number, lazy: boolean];
const LEVELS: readonly LevelConfig[] = [
  [0, 0, 0, 0, false],
  [4, 4, 8, 4, false],
  [4, 5, 16, 8, false],
  [4, 6, 32, 32, false],
  [4, 4, 16, 16, true],
  [8, 16, 32, 32, true],
  [8, 16, 48, 48, true],
  [8, 16, 128, 128, true],
  [32, 128, 258, 1024, true],
  [32, 258, 258, 4096, true],
];

/** The level used when none is given. */
const DEFAULT_LEVEL = 6;
/** The window used when none is given: 32 KiB (RFC 7692 §7.1.2: the default). */
const DEFAULT_WINDOW_BITS = 15;

function initTables(): void {
  for (let i = 0; i < 256; i++) {
    let r = 0;
    for (let b = 0; b < 8; b++) if (i & (1 << b)) r |= 0x80 >> b;
    REVERSE_BYTE[i] = r;
  }
  let length = 0;
  let code = 0;
  for (; code < 28; code++) {
    BASE_LENGTH[code] = length;
    for (let n = 0; n < 1 << EXTRA_LBITS[code]; n++) LENGTH_CODE[length++] = code;
  }
  // Length 258 (index 255) has a code of its own, 285, and not the last of 284's range.
  BASE_LENGTH[28] = 255;
  LENGTH_CODE[255] = 28;
  let dist = 0;
  for (code = 0; code < 16; code++) {
    BASE_DIST[code] = dist;
    for (let n = 0; n < 1 << EXTRA_DBITS[code]; n++) DIST_CODE[dist++] = code;
  }
  dist >>= 7;
  for (; code < D_CODES; code++) {
    BASE_DIST[code] = dist << 7;
    for (let n = 0; n < 1 << (EXTRA_DBITS[code] - 7); n++) DIST_CODE[256 + dist++] = code;
  }
  for (let n = 0; n < 288; n++) FIXED_LLENS[n] = n < 144 ? 8 : n < 256 ? 9 : n < 280 ? 7 : 8;
  const all = Uint16Array.from({ length: 288 }, (_, n) => n);
  genCodes(all, 288, FIXED_LLENS, FIXED_LCODES);
  genCodes(all, D_CODES, FIXED_DLENS, FIXED_DCODES);
  for (let f = 1; f < F_LOG2_F.length; f++) F_LOG2_F[f] = f * Math.log2(f);
}

// ───────────────────────────── shared scratch ─────────────────────────────
// compress() is synchronous and never re-entered, so every instance can use
// the same block buffers.

/** Pending symbols: a literal as its byte (256: end of block), a match as (distance << 9) | (length − 3). */
const syms = new Uint32Array(SYM_BUF_SIZE + 1);
const lfreq = new Int32Array(L_CODES);
const dfreq = new Int32Array(D_CODES);
const blfreq = new Int32Array(BL_CODES);
/** Code lengths and (bit-reversed) codes by symbol; only the used symbols' entries are meaningful. */
const llens = new Uint8Array(L_CODES);
const dlens = new Uint8Array(D_CODES);
const bllens = new Uint8Array(BL_CODES);
const lcodes = new Uint16Array(L_CODES);
const dcodes = new Uint16Array(D_CODES);
const blcodes = new Uint16Array(BL_CODES);
/**
 * The symbols of each alphabet that get a code, in increasing order: a block
 * of a small message uses a few dozen of the 286 literal/length symbols, and
 * building its codes walks these lists, not the alphabets.
 */
const lused = new Uint16Array(L_CODES);
const dused = new Uint16Array(D_CODES);
const blused = new Uint16Array(BL_CODES);
/** The run-length coded code lengths of a dynamic block: symbol (0..18) and its extra-bits value. */
const rleSym = new Uint8Array(L_CODES + D_CODES);
const rleExtra = new Uint8Array(L_CODES + D_CODES);
let rleCount = 0;
/** Huffman construction scratch. */
const treeKeys = new Uint32Array(L_CODES);
const treeA = new Int32Array(L_CODES);
const bitCount = new Int32Array(L_CODES + 1);
const nextCode = new Uint16Array(MAX_BITS + 1);
/** f × log2(f) for small counts: Math.log2 is a call, and the entropy bound takes one per used symbol. */
const F_LOG2_F = new Float64Array(1024);

/** The output: bytes written so far and the bits not yet making a whole byte. */
let out = new Uint8Array(OUT_INITIAL);
let outPos = 0;
let bitBuf = 0;
let bitLen = 0;

/** Set while a compress() runs: still set at the next call if that one threw. */
let busy = false;

/** A stored range waiting to be written (consecutive stored blocks become one). */
let storedStart = 0;
let storedLen = 0;

initTables();

// ───────────────────────────── bit output ─────────────────────────────

function ensureOut(extra: number): void {
  if (outPos + extra <= out.length) return;
  let size = out.length * 2;
  while (size < outPos + extra) size *= 2;
  const bigger = new Uint8Array(size);
  bigger.set(out.subarray(0, outPos));
  out = bigger;
}

/** Appends `length` (≤ 16) bits of `value`, least significant first (RFC 1951 §3.1.1). */
function putBits(value: number, length: number): void {
  bitBuf |= value << bitLen;
  bitLen += length;
  if (bitLen >= 16) {
    out[outPos++] = bitBuf;
    out[outPos++] = bitBuf >>> 8;
    bitBuf >>>= 16;
    bitLen -= 16;
  }
}

/** Pads with zero bits to a byte boundary. */
function alignToByte(): void {
  if (bitLen > 8) {
    out[outPos++] = bitBuf;
    out[outPos++] = bitBuf >>> 8;
  } else if (bitLen > 0) {
    out[outPos++] = bitBuf;
  }
  bitBuf = 0;
  bitLen = 0;
}

// ───────────────────────────── Huffman codes ─────────────────────────────

/**
 * Moffat and Katajainen's in-place minimum-redundancy code: `a[0..n)` holds
 * weights in non-decreasing order and receives the code lengths (the lightest
 * symbols get the longest codes).
 */
function minimumRedundancy(a: Int32Array, n: number): void {
  a[0] += a[1];
  let root = 0;
  let leaf = 2;
  for (let next = 1; next < n - 1; next++) {
    if (leaf >= n || a[root] < a[leaf]) {
      a[next] = a[root];
      a[root++] = next;
    } else {
      a[next] = a[leaf++];
    }
    if (leaf >= n || (root < next && a[root] < a[leaf])) {
      a[next] += a[root];
      a[root++] = next;
    } else {
      a[next] += a[leaf++];
    }
  }
  a[n - 2] = 0;
  for (let next = n - 3; next >= 0; next--) a[next] = a[a[next]] + 1;
  let avail = 1;
  let used = 0;
  let depth = 0;
  let root2 = n - 2;
  let next = n - 1;
  while (avail > 0) {
    while (root2 >= 0 && a[root2] === depth) {
      used++;
      root2--;
    }
    while (avail > used) {
      a[next--] = depth;
      avail--;
    }
    avail = 2 * used;
    depth++;
    used = 0;
  }
}

/** Lists the symbols of `freq[0..n)` with a nonzero count into `used`, in increasing order; returns how many. */
function collectUsed(freq: Int32Array, n: number, used: Uint16Array): number {
  let count = 0;
  for (let i = 0; i < n; i++) if (freq[i] !== 0) used[count++] = i;
  return count;
}

function fLog2F(f: number): number {
  return f < 1024 ? F_LOG2_F[f] : f * Math.log2(f);
}

/**
 * Computes length-limited Huffman code lengths for the symbols `used[0..count)`
 * (increasing, weights in `freq`) into `lens[symbol]`. Like zlib's
 * build_tree, a code gets at least two symbols (a lone symbol gets the partner
 * zlib would give it, with weight 1), so that every code is complete. Returns
 * the number of symbols in `used` then.
 */
function buildLengths(freq: Int32Array, used: Uint16Array, count: number, maxBits: number, lens: Uint8Array): number {
  if (count === 0) {
    used[0] = 0;
    used[1] = 1;
    count = 2;
  } else if (count === 1) {
    const only = used[0];
    if (only < 2) {
      used[1] = only + 1;
    } else {
      used[0] = 0;
      used[1] = only;
    }
    count = 2;
  }
  for (let i = 0; i < count; i++) {
    const symbol = used[i];
    const f = freq[symbol];
    treeKeys[i] = (f === 0 ? 1 : f) * 512 + symbol;
  }
  // Sort by weight, then by symbol (deterministic ties).
  if (count <= 48) {
    for (let i = 1; i < count; i++) {
      const key = treeKeys[i];
      let j = i - 1;
      while (j >= 0 && treeKeys[j] > key) {
        treeKeys[j + 1] = treeKeys[j];
        j--;
      }
      treeKeys[j + 1] = key;
    }
  } else {
    treeKeys.subarray(0, count).sort();
  }
  for (let i = 0; i < count; i++) treeA[i] = treeKeys[i] >>> 9;
  minimumRedundancy(treeA, count);
  if (treeA[0] > maxBits) {
    // Too long: move the overflow up (miniz's method), keeping the code
    // complete, then hand the lengths out again, longest to the lightest.
    bitCount.fill(0, 0, count + 1);
    for (let i = 0; i < count; i++) bitCount[treeA[i]]++;
    for (let l = maxBits + 1; l <= count; l++) {
      bitCount[maxBits] += bitCount[l];
      bitCount[l] = 0;
    }
    let total = 0;
    for (let l = maxBits; l > 0; l--) total += bitCount[l] << (maxBits - l);
    while (total !== 1 << maxBits) {
      bitCount[maxBits]--;
      for (let l = maxBits - 1; l > 0; l--) {
        if (bitCount[l] !== 0) {
          bitCount[l]--;
          bitCount[l + 1] += 2;
          break;
        }
      }
      total--;
    }
    let i = 0;
    for (let l = maxBits; l > 0; l--) {
      for (let k = bitCount[l]; k > 0; k--) treeA[i++] = l;
    }
  }
  for (let i = 0; i < count; i++) lens[treeKeys[i] & 511] = treeA[i];
  return count;
}

/**
 * RFC 1951 §3.2.2: canonical codes for the symbols `used[0..count)`
 * (increasing, all with a length), stored bit-reversed for LSB-first output.
 */
function genCodes(used: Uint16Array, count: number, lens: Uint8Array, codes: Uint16Array): void {
  bitCount.fill(0, 0, MAX_BITS + 1);
  for (let k = 0; k < count; k++) bitCount[lens[used[k]]]++;
  let code = 0;
  for (let bits = 1; bits <= MAX_BITS; bits++) {
    code = (code + bitCount[bits - 1]) << 1;
    nextCode[bits] = code;
  }
  for (let k = 0; k < count; k++) {
    const symbol = used[k];
    const len = lens[symbol];
    const c = nextCode[len]++;
    codes[symbol] = ((REVERSE_BYTE[c & 255] << 8) | REVERSE_BYTE[c >>> 8]) >>> (16 - len);
  }
}

function rleEmit(symbol: number, extra: number): void {
  rleSym[rleCount] = symbol;
  rleExtra[rleCount++] = extra;
  blfreq[symbol]++;
}

/** A run of `z` zero lengths: code 18 for 11–138, 17 for 3–10, single zeros below. */
function rleZeros(z: number): void {
  while (z >= 11) {
    const n = z < 138 ? z : 138;
    rleEmit(18, n - 11);
    z -= n;
  }
  if (z >= 3) rleEmit(17, z - 3);
  else for (; z > 0; z--) rleEmit(0, 0);
}

/**
 * RFC 1951 §3.2.7: run-length codes the lengths of symbols 0 up to the last
 * used one (unused symbols have length 0), appending to the RLE buffer and
 * counting in `blfreq`. A run of one length is sent once, then repeated with
 * code 16 (3–6 times); as zlib's scan_tree/send_tree do, up to details.
 */
function rleLengths(used: Uint16Array, count: number, lens: Uint8Array): void {
  let next = 0;
  for (let k = 0; k < count;) {
    const symbol = used[k];
    if (symbol > next) rleZeros(symbol - next);
    const len = lens[symbol];
    let run = 1;
    while (k + run < count && used[k + run] === symbol + run && lens[symbol + run] === len) run++;
    k += run;
    next = symbol + run;
    rleEmit(len, 0);
    run--;
    while (run >= 3) {
      const n = run < 6 ? run : 6;
      rleEmit(16, n - 3);
      run -= n;
    }
    for (; run > 0; run--) rleEmit(len, 0);
  }
}

// ───────────────────────────── blocks ─────────────────────────────

/** Writes `length` bytes of `data` from `start` as stored blocks of at most 65,535 bytes (RFC 1951 §3.2.4). */
function writeStored(data: Uint8Array, start: number, length: number): void {
  ensureOut(length + 5 * Math.ceil(length / MAX_STORED) + 8);
  while (length > 0) {
    const n = length < MAX_STORED ? length : MAX_STORED;
    putBits(0, 3); // BFINAL 0, BTYPE 00
    alignToByte();
    out[outPos++] = n;
    out[outPos++] = n >>> 8;
    out[outPos++] = ~n;
    out[outPos++] = ~n >>> 8;
    out.set(data.subarray(start, start + n), outPos);
    outPos += n;
    start += n;
    length -= n;
  }
}

function flushStored(data: Uint8Array): void {
  if (storedLen !== 0) {
    writeStored(data, storedStart, storedLen);
    storedLen = 0;
  }
}

/** Stored blocks needed for `length` bytes. */
function storedPieces(length: number): number {
  return Math.ceil(length / MAX_STORED);
}

/** Writes `count` pending symbols with the given codes (the caller appends the end-of-block code). */
function writeSymbols(
  count: number,
  lc: Uint16Array,
  ll: Uint8Array,
  dc: Uint16Array,
  dl: Uint8Array,
): void {
  ensureOut(count * 6 + 8);
  const o = out;
  let pos = outPos;
  let buf = bitBuf;
  let len = bitLen;
  for (let i = 0; i < count; i++) {
    const sym = syms[i];
    const dist = sym >>> 9;
    if (dist === 0) {
      buf |= lc[sym] << len;
      len += ll[sym];
    } else {
      const lx = sym & 511;
      let code = LENGTH_CODE[lx];
      buf |= lc[code + 257] << len;
      len += ll[code + 257];
      let extra = EXTRA_LBITS[code];
      if (extra !== 0) {
        buf |= (lx - BASE_LENGTH[code]) << len;
        len += extra;
      }
      if (len >= 16) {
        o[pos++] = buf;
        o[pos++] = buf >>> 8;
        buf >>>= 16;
        len -= 16;
      }
      const d = dist - 1;
      code = d < 256 ? DIST_CODE[d] : DIST_CODE[256 + (d >>> 7)];
      buf |= dc[code] << len;
      len += dl[code];
      if (len >= 16) {
        o[pos++] = buf;
        o[pos++] = buf >>> 8;
        buf >>>= 16;
        len -= 16;
      }
      extra = EXTRA_DBITS[code];
      if (extra !== 0) {
        buf |= (d - BASE_DIST[code]) << len;
        len += extra;
      }
    }
    if (len >= 16) {
      o[pos++] = buf;
      o[pos++] = buf >>> 8;
      buf >>>= 16;
      len -= 16;
    }
  }
  outPos = pos;
  bitBuf = buf;
  bitLen = len;
}

/**
 * Ends a block of `count` symbols that covers `data[start, start + length)`:
 * sends it as the smallest of stored, fixed and dynamic Huffman (sizes
 * computed exactly in bits, as zlib's _tr_flush_block does up to rounding),
 * then clears the counts.
 */
function flushBlock(data: Uint8Array, start: number, length: number, count: number): void {
  lfreq[END_BLOCK] = 1;
  const lCount = collectUsed(lfreq, L_CODES, lused);
  const dCount = collectUsed(dfreq, D_CODES, dused);
  // One pass for the fixed-code size and a lower bound of the dynamic one,
  // so that small blocks, where fixed codes win, skip building the trees:
  // - the symbols cost at least their Shannon entropy (no prefix code does better);
  // - rleLengths sends a run of z zero lengths in z bits at least if z < 3
  //   (code 0), 4 if z < 11 (code 17 and 3 extra bits), 8 otherwise (code
  //   18 and 7 extra bits), and a used symbol's length in half a bit at least
  //   (code 16 sends 3 to 6 of them in 3 bits or more); the zero runs of a
  //   distance code with a single used symbol are left out (zlib's partner
  //   symbol may split them);
  // - a complete code of u symbols has a length ℓ ≤ log2(u); the code-length
  //   code lengths are sent up to the last used one in BL_ORDER, where length
  //   ℓ ≤ 7 sits at 19 − 2ℓ: so at least 20 − 2ℓ of them, 3 bits each.
  let extraBits = 0;
  let fixedBits = 3;
  let headerBound = 0;
  let lTotal = 0;
  let lSum = 0;
  let next = 0;
  for (let k = 0; k < lCount; k++) {
    const symbol = lused[k];
    const f = lfreq[symbol];
    const zeros = symbol - next;
    if (zeros !== 0) headerBound += zeros < 3 ? zeros : zeros < 11 ? 4 : 8;
    next = symbol + 1;
    lTotal += f;
    lSum += fLog2F(f);
    fixedBits += f * FIXED_LLENS[symbol];
    if (symbol > END_BLOCK) extraBits += f * EXTRA_LBITS[symbol - 257];
  }
  let dTotal = 0;
  let dSum = 0;
  next = 0;
  for (let k = 0; k < dCount; k++) {
    const symbol = dused[k];
    const f = dfreq[symbol];
    const zeros = symbol - next;
    if (zeros !== 0 && dCount >= 2) headerBound += zeros < 3 ? zeros : zeros < 11 ? 4 : 8;
    next = symbol + 1;
    dTotal += f;
    dSum += fLog2F(f);
    extraBits += f * EXTRA_DBITS[symbol];
    fixedBits += f * 5;
  }
  fixedBits += extraBits;
  const shortest = Math.min(Math.log2(lCount < 2 ? 2 : lCount), Math.log2(dCount < 2 ? 2 : dCount)) | 0;
  const blSent = shortest <= 7 ? 20 - 2 * shortest : 4;
  headerBound += 5 + 5 + 4 + 3 * blSent + 0.5 * (lCount + dCount);
  // One bit of margin: Math.log2 may differ in the last place between engines,
  // and the choice must not (the bound only decides whether to compute).
  const dynamicBound = 3 + headerBound + extraBits + fLog2F(lTotal) - lSum +
    (dTotal === 0 ? 0 : fLog2F(dTotal) - dSum) - 1;

  // Stored: extending the pending stored range, or starting one here.
  let storedBits: number;
  if (storedLen !== 0) {
    storedBits = 8 * length + (3 + 5 + STORED_LEN_BITS) *
        (storedPieces(storedLen + length) - storedPieces(storedLen));
  } else {
    const pad = (8 - ((bitLen + 3) & 7)) & 7;
    storedBits = 8 * length + (3 + STORED_LEN_BITS) * storedPieces(length) + pad +
      5 * (storedPieces(length) - 1);
  }

  // Dynamic: both codes, then the code-length code that sends their lengths.
  let dynamicBits = Infinity;
  let lCodes = 0;
  let dCodes = 0;
  let blCodes = 0;
  let blMax = 0;
  if (fixedBits > dynamicBound && storedBits > dynamicBound) {
    lCodes = buildLengths(lfreq, lused, lCount, MAX_BITS, llens);
    dCodes = buildLengths(dfreq, dused, dCount, MAX_BITS, dlens);
    blfreq.fill(0);
    rleCount = 0;
    rleLengths(lused, lCodes, llens);
    rleLengths(dused, dCodes, dlens);
    bllens.fill(0);
    blCodes = buildLengths(blfreq, blused, collectUsed(blfreq, BL_CODES, blused), MAX_BL_BITS, bllens);
    blMax = BL_CODES - 1;
    while (blMax >= 4 && bllens[BL_ORDER[blMax]] === 0) blMax--;
    dynamicBits = 3 + 5 + 5 + 4 + 3 * (blMax + 1) + extraBits +
      2 * blfreq[16] + 3 * blfreq[17] + 7 * blfreq[18];
    for (let k = 0; k < blCodes; k++) dynamicBits += blfreq[blused[k]] * bllens[blused[k]];
    for (let k = 0; k < lCodes; k++) dynamicBits += lfreq[lused[k]] * llens[lused[k]];
    for (let k = 0; k < dCodes; k++) dynamicBits += dfreq[dused[k]] * dlens[dused[k]];
  }

  if (storedBits <= fixedBits && storedBits <= dynamicBits) {
    if (storedLen === 0) storedStart = start;
    storedLen += length;
  } else {
    flushStored(data);
    ensureOut(16);
    if (fixedBits <= dynamicBits) {
      putBits(1 << 1, 3); // BFINAL 0, BTYPE 01
      syms[count] = END_BLOCK;
      writeSymbols(count + 1, FIXED_LCODES, FIXED_LLENS, FIXED_DCODES, FIXED_DLENS);
    } else {
      genCodes(lused, lCodes, llens, lcodes);
      genCodes(dused, dCodes, dlens, dcodes);
      genCodes(blused, blCodes, bllens, blcodes);
      ensureOut(((dynamicBits - extraBits) >>> 3) + 16);
      putBits(2 << 1, 3); // BFINAL 0, BTYPE 10
      putBits(lused[lCodes - 1] + 1 - 257, 5); // HLIT
      putBits(dused[dCodes - 1] + 1 - 1, 5); // HDIST
      putBits(blMax + 1 - 4, 4); // HCLEN
      for (let i = 0; i <= blMax; i++) putBits(bllens[BL_ORDER[i]], 3);
      for (let i = 0; i < rleCount; i++) {
        const s = rleSym[i];
        putBits(blcodes[s], bllens[s]);
        if (s >= 16) putBits(rleExtra[i], s === 16 ? 2 : s === 17 ? 3 : 7);
      }
      syms[count] = END_BLOCK;
      writeSymbols(count + 1, lcodes, llens, dcodes, dlens);
    }
  }
  lfreq.fill(0);
  dfreq.fill(0);
}

// ───────────────────────────── LZ77 ─────────────────────────────

/**
 * The sliding window and its hash chains. Positions are offsets into `win`;
 * `head[hash]` is the latest position with that 3-byte hash, `prev[pos & wMask]`
 * the one before it; 0 is "none" (so, as in zlib, position 0 is never matched:
 * RFC 7692 §7.2.3.2's "Hello" example shows this).
 */
class Window {
  readonly wSize: number;
  readonly wMask: number;
  readonly win: Uint8Array;
  /** `win` for 16-bit reads. */
  readonly view: DataView;
  readonly prev: Uint16Array;
  readonly head: Uint16Array;
  /** Hash bits in use: fixed with context takeover, chosen per message without. */
  hashShift = 0;
  hashSize = 0;
  /** The next position to compress, and the end of the valid bytes in `win`. */
  strstart = 0;
  end = 0;
  /** Positions from here up to `strstart` still have to be hashed (they lacked 3 bytes). */
  insertFrom = 0;
  /** The start of the latest match (kept across a slide). */
  matchStart = 0;

  constructor(windowBits: number, maxHashBits: number) {
    this.wSize = 1 << windowBits;
    this.wMask = this.wSize - 1;
    this.win = new Uint8Array(Math.max(2 * this.wSize, MIN_BUFFER));
    this.prev = new Uint16Array(this.wSize);
    this.view = new DataView(this.win.buffer);
    this.head = new Uint16Array(1 << maxHashBits);
    this.setHashBits(maxHashBits);
  }

  setHashBits(bits: number): void {
    this.hashShift = 32 - bits;
    this.hashSize = 1 << bits;
  }

  /** Forgets everything (no context takeover: each message stands alone). */
  reset(hashBits: number): void {
    this.setHashBits(hashBits);
    this.head.fill(0, 0, this.hashSize);
    this.strstart = 0;
    this.end = 0;
    this.insertFrom = 0;
    this.matchStart = 0;
  }

  /**
   * Moves the window down by a multiple of wSize to make room, keeping at
   * least wSize − MIN_LOOKAHEAD bytes of history (all of wSize when the
   * buffer allows), and rebases the chains; links that fall off become "none".
   */
  slide(): void {
    const w = this.wSize;
    let shift = Math.floor((this.strstart - w) / w) * w;
    if (shift <= 0) shift = w;
    this.win.copyWithin(0, shift, this.end);
    this.strstart -= shift;
    this.end -= shift;
    this.matchStart -= shift;
    this.insertFrom = this.insertFrom > shift ? this.insertFrom - shift : 0;
    const head = this.head;
    // Branch-free max(v - shift, 0): about half the links fall off, unpredictably.
    for (let i = 0, n = this.hashSize; i < n; i++) {
      const v = head[i] - shift;
      head[i] = v & ~(v >> 31);
    }
    const prev = this.prev;
    for (let i = 0; i < w; i++) {
      const v = prev[i] - shift;
      prev[i] = v & ~(v >> 31);
    }
  }

  /** Copies the next part of `data` (from `from`) into the window, sliding first if needed; returns the new `from`. */
  fill(data: Uint8Array, from: number): number {
    if (this.strstart >= this.win.length - MIN_LOOKAHEAD) this.slide();
    const room = this.win.length - this.end;
    const n = Math.min(room, data.length - from);
    if (n <= 128) {
      // A small message: a loop beats making a subarray view.
      const win = this.win;
      for (let i = 0, at = this.end; i < n; i++) win[at + i] = data[from + i];
    } else {
      this.win.set(data.subarray(from, from + n), this.end);
    }
    this.end += n;
    return from + n;
  }

  /** Hashes the positions that lacked 3 bytes at the end of the previous message. */
  insertPending(): void {
    const win = this.win, head = this.head, prev = this.prev, wMask = this.wMask, shift = this.hashShift;
    const limit = Math.min(this.strstart, this.end - 2);
    let p = this.insertFrom;
    for (; p < limit; p++) {
      const h = Math.imul(win[p] | (win[p + 1] << 8) | (win[p + 2] << 16), HASH_MULTIPLIER) >>> shift;
      prev[p & wMask] = head[h];
      head[h] = p;
    }
    this.insertFrom = p;
  }
}

/** Fibonacci hashing of the 3 bytes at a position (Knuth's multiplicative constant). */
const HASH_MULTIPLIER = 0x9e3779b1 | 0;

/**
 * zlib's longest_match: walks the hash chain from `cur` looking for a match
 * longer than `bestLen`, at most `maxLen` long, stopping at `nice` or after
 * `chain` candidates or at `limit`. Returns the length | (start << 9), with
 * `start` unchanged when nothing longer was found. A candidate is first
 * tested on the two bytes that would make it longer than the best so far,
 * then on its first three, read 16 bits at a time through `view` (a
 * DataView of `win`; unaligned reads): most candidates fail there. Nothing
 * is read at or past `scan + maxLen` (the buffer may end there): a match
 * that long reaches `nice` first and ends the search.
 */
function longestMatch(
  win: Uint8Array,
  view: DataView,
  prev: Uint16Array,
  wMask: number,
  scan: number,
  cur: number,
  bestLen: number,
  start: number,
  maxLen: number,
  chain: number,
  nice: number,
  limit: number,
): number {
  const strend = scan + maxLen;
  if (nice > maxLen) nice = maxLen;
  const head3 = view.getUint16(scan, true) | (win[scan + 2] << 16);
  let endPair = view.getUint16(scan + bestLen - 1, true);
  let at = bestLen - 1;
  do {
    if (view.getUint16(cur + at, true) !== endPair || (view.getUint16(cur, true) | (win[cur + 2] << 16)) !== head3) {
      continue;
    }
    let s = scan + 3;
    let m = cur + 3;
    while (s < strend && win[s] === win[m]) {
      s++;
      m++;
    }
    const len = s - scan;
    if (len > bestLen) {
      start = cur;
      bestLen = len;
      if (len >= nice) break;
      at = len - 1;
      endPair = view.getUint16(scan + at, true);
    }
  } while ((cur = prev[cur & wMask]) > limit && --chain !== 0);
  return bestLen | (start << 9);
}

// The match loops run until the symbol buffer is full, the window needs more
// of the message, or the message is done, and then return to deflateMessage,
// which flushes the block or copies more input and calls them again. Their
// state between runs lives in module variables: V8 compiles a long loop "on
// stack replacement" before the code after it has ever run, and code there
// that needs type feedback would then deoptimize on every call; stores to
// module variables need none.

/** Why a match loop returned. */
const RUN_DONE = 0;
const RUN_NEED_INPUT = 1;
const RUN_BLOCK_FULL = 2;

/** The match loops' state between runs. */
let lzStrstart = 0;
let lzLookahead = 0;
let lzMatchStart = 0;
let lzMatchLength = 0;
let lzMatchAvailable = false;
/** Whether the message has bytes that are not in the window yet. */
let lzMore = false;
/** Symbols in `syms`, and the message bytes they cover. */
let lzCount = 0;
let lzCovered = 0;

/**
 * zlib's deflate_slow: lazy matching (a match is taken only if the match at
 * the next byte is not longer).
 */
function lazyRun(st: Window, good: number, maxLazy: number, niceLength: number, maxChain: number): number {
  const win = st.win, head = st.head, prev = st.prev, wMask = st.wMask, wSize = st.wSize;
  const shift = st.hashShift;
  const more = lzMore;
  let strstart = lzStrstart;
  let lookahead = lzLookahead;
  let matchStart = lzMatchStart;
  let matchLength = lzMatchLength;
  let matchAvailable = lzMatchAvailable;
  let count = lzCount;
  let covered = lzCovered;
  let reason = RUN_DONE;
  for (;;) {
    if (count === SYM_BUF_SIZE) {
      reason = RUN_BLOCK_FULL;
      break;
    }
    if (lookahead < MIN_LOOKAHEAD) {
      if (more) {
        reason = RUN_NEED_INPUT;
        break;
      }
      if (lookahead === 0) break;
    }
    let hashHead = 0;
    if (lookahead >= MIN_MATCH) {
      const h = Math.imul(
        win[strstart] | (win[strstart + 1] << 8) | (win[strstart + 2] << 16),
        HASH_MULTIPLIER,
      ) >>> shift;
      hashHead = head[h];
      prev[strstart & wMask] = hashHead;
      head[h] = strstart;
    }
    const prevLength = matchLength;
    const prevMatch = matchStart;
    matchLength = MIN_MATCH - 1;
    const limit = strstart > wSize ? strstart - wSize : 0;
    if (hashHead > limit && prevLength < maxLazy) {
      const maxLen = lookahead < MAX_MATCH ? lookahead : MAX_MATCH;
      if (prevLength < maxLen) {
        const r = longestMatch(
          win,
          st.view,
          prev,
          wMask,
          strstart,
          hashHead,
          prevLength,
          matchStart,
          maxLen,
          prevLength >= good ? maxChain >> 2 : maxChain,
          niceLength,
          limit,
        );
        matchLength = r & 511;
        matchStart = r >>> 9;
        const tooFar = strstart - matchStart > TOO_FAR;
        if (matchLength === MIN_MATCH && tooFar) matchLength = MIN_MATCH - 1;
      } else {
        matchLength = prevLength;
      }
    }
    if (prevLength >= MIN_MATCH && matchLength <= prevLength) {
      // The previous match is the better one: emit it.
      const maxInsert = strstart + lookahead - MIN_MATCH;
      const dist = strstart - 1 - prevMatch;
      const lx = prevLength - MIN_MATCH;
      syms[count++] = (dist << 9) | lx;
      lfreq[LENGTH_CODE[lx] + 257]++;
      const d = dist - 1;
      dfreq[d < 256 ? DIST_CODE[d] : DIST_CODE[256 + (d >>> 7)]]++;
      covered += prevLength;
      lookahead -= prevLength - 1;
      let left = prevLength - 2;
      do {
        if (++strstart <= maxInsert) {
          const h = Math.imul(
            win[strstart] | (win[strstart + 1] << 8) | (win[strstart + 2] << 16),
            HASH_MULTIPLIER,
          ) >>> shift;
          prev[strstart & wMask] = head[h];
          head[h] = strstart;
        }
      } while (--left !== 0);
      matchAvailable = false;
      matchLength = MIN_MATCH - 1;
      strstart++;
    } else if (matchAvailable) {
      const c = win[strstart - 1];
      syms[count++] = c;
      lfreq[c]++;
      covered++;
      strstart++;
      lookahead--;
    } else {
      matchAvailable = true;
      strstart++;
      lookahead--;
    }
  }
  lzStrstart = strstart;
  lzLookahead = lookahead;
  lzMatchStart = matchStart;
  lzMatchLength = matchLength;
  lzMatchAvailable = matchAvailable;
  lzCount = count;
  lzCovered = covered;
  return reason;
}

/**
 * zlib's deflate_fast: greedy matching; the positions inside a match are
 * hashed only for matches up to `maxInsertLength` long.
 */
function greedyRun(st: Window, maxInsertLength: number, niceLength: number, maxChain: number): number {
  const win = st.win, head = st.head, prev = st.prev, wMask = st.wMask, wSize = st.wSize;
  const shift = st.hashShift;
  const more = lzMore;
  let strstart = lzStrstart;
  let lookahead = lzLookahead;
  let count = lzCount;
  let covered = lzCovered;
  let reason = RUN_DONE;
  for (;;) {
    if (count === SYM_BUF_SIZE) {
      reason = RUN_BLOCK_FULL;
      break;
    }
    if (lookahead < MIN_LOOKAHEAD) {
      if (more) {
        reason = RUN_NEED_INPUT;
        break;
      }
      if (lookahead === 0) break;
    }
    let hashHead = 0;
    if (lookahead >= MIN_MATCH) {
      const h = Math.imul(
        win[strstart] | (win[strstart + 1] << 8) | (win[strstart + 2] << 16),
        HASH_MULTIPLIER,
      ) >>> shift;
      hashHead = head[h];
      prev[strstart & wMask] = hashHead;
      head[h] = strstart;
    }
    let matchLength = 0;
    let matchStart = 0;
    const limit = strstart > wSize ? strstart - wSize : 0;
    if (hashHead > limit) {
      const r = longestMatch(
        win,
        st.view,
        prev,
        wMask,
        strstart,
        hashHead,
        MIN_MATCH - 1,
        0,
        lookahead < MAX_MATCH ? lookahead : MAX_MATCH,
        maxChain,
        niceLength,
        limit,
      );
      matchLength = r & 511;
      matchStart = r >>> 9;
    }
    if (matchLength >= MIN_MATCH) {
      const dist = strstart - matchStart;
      const lx = matchLength - MIN_MATCH;
      syms[count++] = (dist << 9) | lx;
      lfreq[LENGTH_CODE[lx] + 257]++;
      const d = dist - 1;
      dfreq[d < 256 ? DIST_CODE[d] : DIST_CODE[256 + (d >>> 7)]]++;
      covered += matchLength;
      lookahead -= matchLength;
      const next = strstart + matchLength;
      if (matchLength <= maxInsertLength && lookahead >= MIN_MATCH) {
        for (let p = strstart + 1; p < next; p++) {
          const h = Math.imul(win[p] | (win[p + 1] << 8) | (win[p + 2] << 16), HASH_MULTIPLIER) >>> shift;
          prev[p & wMask] = head[h];
          head[h] = p;
        }
      }
      strstart = next;
    } else {
      const c = win[strstart];
      syms[count++] = c;
      lfreq[c]++;
      covered++;
      strstart++;
      lookahead--;
    }
  }
  lzStrstart = strstart;
  lzLookahead = lookahead;
  lzCount = count;
  lzCovered = covered;
  return reason;
}

/** Compresses all of `data` (its first `from` bytes are already in the window) into blocks. */
function deflateMessage(st: Window, data: Uint8Array, from: number, config: LevelConfig): void {
  const good = config[0], maxLazy = config[1], nice = config[2], chain = config[3], lazy = config[4];
  lzStrstart = st.strstart;
  lzLookahead = st.end - st.strstart;
  lzMatchStart = st.matchStart;
  lzMatchLength = MIN_MATCH - 1;
  lzMatchAvailable = false;
  lzMore = from < data.length;
  lzCount = 0;
  lzCovered = 0;
  let blockStart = 0;
  for (;;) {
    const reason = lazy ? lazyRun(st, good, maxLazy, nice, chain) : greedyRun(st, maxLazy, nice, chain);
    if (reason === RUN_BLOCK_FULL) {
      flushBlock(data, blockStart, lzCovered, lzCount);
      blockStart += lzCovered;
      lzCount = 0;
      lzCovered = 0;
    } else if (reason === RUN_NEED_INPUT) {
      st.strstart = lzStrstart;
      st.matchStart = lzMatchStart;
      from = st.fill(data, from);
      lzStrstart = st.strstart;
      lzMatchStart = st.matchStart;
      lzLookahead = st.end - st.strstart;
      lzMore = from < data.length;
    } else {
      break;
    }
  }
  if (lzMatchAvailable) {
    const c = st.win[lzStrstart - 1];
    syms[lzCount++] = c;
    lfreq[c]++;
    lzCovered++;
  }
  if (lzCount !== 0) flushBlock(data, blockStart, lzCovered, lzCount);
  st.strstart = lzStrstart;
  st.matchStart = lzMatchStart;
}

/** Without context takeover, the windows are shared by all instances with the same windowBits. */
const sharedWindows: (Window | undefined)[] = [];

// ───────────────────────────── API ─────────────────────────────

/**
 * Options of a {@linkcode Deflater}: the parameters negotiated for the
 * direction it compresses (RFC 7692 §7.1) and the effort to spend.
 *
 * @example
 * ```ts ignore
 * const options: DeflaterOptions = { windowBits: 10, contextTakeover: false, level: 1 };
 * ```
 */
export interface DeflaterOptions {
  /**
   * 8..15: the largest LZ77 distance is 2^windowBits (the peer's inflater may
   * use only that window): `server_max_window_bits` for a server,
   * `client_max_window_bits` for a client (RFC 7692 §7.1.2).
   *
   * @default {15}
   */
  windowBits?: number;
  /**
   * Whether matches may reach into earlier messages (false: every message is
   * compressed on its own; `server_no_context_takeover` for a server,
   * `client_no_context_takeover` for a client, RFC 7692 §7.1.1).
   */
  contextTakeover: boolean;
  /**
   * 1 (fastest) .. 9 (smallest), much as in zlib: 1–3 take the first match
   * found (greedy), 4–9 look one byte ahead for a longer one (lazy) and search
   * further along the hash chains. The default, 6, compresses JSON within
   * about 3 % of zlib's level 6; 7 searches as far as zlib's 6.
   *
   * @default {6}
   */
  level?: number;
}

const OPTION_KEYS = new Set(["windowBits", "contextTakeover", "level"]);

/**
 * The compressing half of permessage-deflate (RFC 7692 §7.2.1), one per
 * connection direction: `compress` takes a whole message and returns the
 * payload to send with RSV1 set. Synchronous, deterministic (the same input
 * gives the same bytes on every runtime), and allocation-free until the first
 * message; see the module documentation for the memory it keeps.
 *
 * @example
 * ```ts ignore
 * const deflater = new Deflater({ contextTakeover: true, windowBits: 15, level: 6 });
 * const hello = new TextEncoder().encode("Hello");
 * deflater.compress(hello); // f2 48 cd c9 c9 07 00
 * deflater.compress(hello); // f2 00 11 00 00: refers back into the first message
 * ```
 */
export class Deflater {
  readonly #windowBits: number;
  readonly #contextTakeover: boolean;
  readonly #level: number;
  #window: Window | undefined;
  /** Set while compressing with context takeover; still set if that threw. */
  #broken = false;

  /**
   * Creates a deflater for one direction of one connection; it allocates
   * nothing until the first message.
   *
   * @param options The negotiated window and context takeover, and the level.
   * @throws {TypeError} If `options` is not an object, has an unknown key, or
   * `contextTakeover` is not a boolean.
   * @throws {RangeError} If `windowBits` is not an integer in 8..15 or `level`
   * not an integer in 1..9.
   *
   * @example
   * ```ts ignore
   * const deflater = new Deflater({ contextTakeover: false, windowBits: 9 });
   * ```
   */
  constructor(options: DeflaterOptions) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError("Cannot create a Deflater: options must be an object");
    }
    for (const key of Object.keys(options)) {
      if (!OPTION_KEYS.has(key)) {
        throw new TypeError(
          `Cannot create a Deflater: unknown option "${key}" (expected windowBits, contextTakeover, level)`,
        );
      }
    }
    const { windowBits = DEFAULT_WINDOW_BITS, contextTakeover, level = DEFAULT_LEVEL } = options;
    if (typeof contextTakeover !== "boolean") {
      throw new TypeError("Cannot create a Deflater: contextTakeover must be true or false");
    }
    if (!Number.isInteger(windowBits) || windowBits < 8 || windowBits > 15) {
      throw new RangeError(`Cannot create a Deflater: windowBits must be an integer from 8 to 15, got ${windowBits}`);
    }
    if (!Number.isInteger(level) || level < 1 || level > 9) {
      throw new RangeError(`Cannot create a Deflater: level must be an integer from 1 to 9, got ${level}`);
    }
    this.#windowBits = windowBits;
    this.#contextTakeover = contextTakeover;
    this.#level = level;
  }

  /**
   * Compresses ONE WebSocket message and returns the bytes for the frame payload: raw DEFLATE
   * (RFC 1951) blocks with BFINAL=0, ending with a sync flush whose empty stored block 00 00 ff ff is
   * removed (RFC 7692 §7.2.1). A new Uint8Array the caller owns.
   *
   * The empty message gives the single byte `00` (RFC 7692 §7.2.3.6). `data`
   * is only read.
   *
   * @param data The whole message (text as UTF-8).
   * @returns The compressed payload.
   * @throws {TypeError} If `data` is not a Uint8Array.
   *
   * @example
   * ```ts ignore
   * const deflater = new Deflater({ contextTakeover: false });
   * const payload = deflater.compress(new TextEncoder().encode("Hello"));
   * // payload: f2 48 cd c9 c9 07 00, the same for every message "Hello"
   * ```
   */
  compress(data: Uint8Array): Uint8Array {
    const view = this.compressView(data);
    // Not view.slice(): for small results its species lookup costs more than the copy.
    const result = new Uint8Array(view.length);
    if (view.length <= 64) {
      for (let i = 0; i < view.length; i++) result[i] = view[i];
    } else {
      result.set(view);
    }
    return result;
  }

  /**
   * {@linkcode Deflater.compress} without the copy: the payload is a view into
   * a buffer shared by every Deflater, valid until the next compression in
   * this process. For a caller that copies it at once (into a frame).
   *
   * @param data The whole message (text as UTF-8).
   * @returns The compressed payload, to be read before compressing again.
   *
   * @example
   * ```ts ignore
   * const deflater = new Deflater({ contextTakeover: true });
   * out.writeFrame(FIN | RSV1 | 0x1, deflater.compressView(bytes), null); // copied here
   * ```
   */
  compressView(data: Uint8Array): Uint8Array {
    if (!(data instanceof Uint8Array)) {
      throw new TypeError("Cannot compress: the message must be a Uint8Array");
    }
    const bits = this.#windowBits;
    const hashBits = Math.max(8, bits - 1);
    let st: Window;
    if (this.#contextTakeover) {
      if (this.#broken) {
        throw new Error(
          "Cannot compress: an earlier compress() of this Deflater failed, so its window no longer matches the peer's",
        );
      }
      this.#broken = true;
      st = this.#window ??= new Window(bits, hashBits);
    } else {
      st = sharedWindows[bits] ??= new Window(bits, hashBits);
      // A small message gets a small hash table: cheaper to clear.
      let messageBits = 8;
      while (messageBits < hashBits && 1 << messageBits < data.length) messageBits++;
      st.reset(messageBits);
    }
    if (busy) {
      // A compress() threw half-way (out of memory): its counts are stale.
      lfreq.fill(0);
      dfreq.fill(0);
    }
    busy = true;
    outPos = 0;
    bitBuf = 0;
    bitLen = 0;
    storedLen = 0;
    if (data.length !== 0) {
      const from = st.fill(data, 0);
      if (st.insertFrom < st.strstart) st.insertPending();
      deflateMessage(st, data, from, LEVELS[this.#level]);
      // The last two positions lack a third byte; the next message hashes them.
      if (st.insertFrom < st.end - 2) st.insertFrom = st.end - 2;
    }
    // RFC 7692 §7.2.1: the sync flush's empty stored block, minus 00 00 ff ff.
    flushStored(data);
    ensureOut(8);
    putBits(0, 3);
    alignToByte();
    const result = out.subarray(0, outPos);
    // A grown buffer is let go (the view keeps it alive while it is read).
    if (out.length > OUT_KEEP) out = new Uint8Array(OUT_INITIAL);
    busy = false;
    this.#broken = false;
    return result;
  }
}
