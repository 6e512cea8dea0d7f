/**
 * Turns the JITDump files JavaScriptCore writes (Bun with
 * `BUN_JSC_useJITDump=1 BUN_JSC_jitDumpDirectory=<dir>`) into the
 * `/tmp/perf-<pid>.map` that `perf report` reads: `perf inject --jit` does not
 * resolve them (JSC does not map the file), but their code-load records are
 * all a map needs.
 *
 *     BUN_JSC_useJITDump=1 BUN_JSC_jitDumpDirectory=/tmp/jit bun server.ts &  # then perf record -g -p <pid>
 *     deno run -A bench/micro/jitdump_map.ts /tmp/jit <pid>
 *
 * Findings made with it: bench/RESULTS.md, "Fifth round, Bun: handshakes".
 *
 * @module
 */

const [dir, pid] = Deno.args;
if (dir === undefined || pid === undefined) throw new Error("usage: jitdump_map.ts <jitdump directory> <pid>");
const lines: string[] = [];
const decoder = new TextDecoder();
for (const entry of Deno.readDirSync(dir)) {
  if (!entry.name.endsWith(".dump")) continue;
  const bytes = Deno.readFileSync(`${dir}/${entry.name}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // File header: magic, version, header size, ...; then records of id, size, timestamp.
  let at = view.getUint32(8, true);
  while (at + 16 <= bytes.length) {
    const id = view.getUint32(at, true), size = view.getUint32(at + 4, true);
    if (size === 0) break;
    if (id === 0) {
      // JIT_CODE_LOAD: pid, tid, vma, code address, code size, code index, then the name (NUL-terminated).
      const address = view.getBigUint64(at + 16 + 16, true), codeSize = view.getBigUint64(at + 16 + 24, true);
      const nameStart = at + 16 + 40;
      const nameEnd = bytes.indexOf(0, nameStart);
      lines.push(
        `${address.toString(16)} ${codeSize.toString(16)} ${decoder.decode(bytes.subarray(nameStart, nameEnd))}`,
      );
    }
    at += size;
  }
}
Deno.writeTextFileSync(`/tmp/perf-${pid}.map`, lines.join("\n") + "\n");
console.log(`/tmp/perf-${pid}.map: ${lines.length} symbols`);
