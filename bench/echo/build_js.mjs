// Builds the `wsd-node-js` server of bench/echo.ts the way JSR's npm compatibility layer ships the library to Node
// users: one JavaScript file per TypeScript file (types stripped, `.ts` import specifiers rewritten to `.js`), not a
// bundle. Node runs no type stripping under node_modules, so this is what an npm user's Node loads.
//
//     node bench/echo/build_js.mjs <out dir> <es-module-lexer module> <entry.ts>...
//
// Run by Node 26 (`module.stripTypeScriptTypes`, mode "strip": our TypeScript is erasable, and the output keeps every
// position, so the lexer's offsets are the output's). Every file reachable from the entries through relative static
// imports, re-exports and string-literal dynamic imports is emitted to <out dir>/<its path from the repository
// root>, `.ts` → `.js`; bare specifiers (`node:…`, npm packages) stay as they are and resolve through the root
// node_modules. The specifiers are found by es-module-lexer (a real lexer: strings, comments, templates and regular
// expressions are not mistaken for imports), and only their text is replaced.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { stripTypeScriptTypes } from "node:module";
import { pathToFileURL } from "node:url";

const [outDir, lexerPath, ...entries] = process.argv.slice(2);
if (!outDir || !lexerPath || entries.length === 0) {
  console.error("usage: node build_js.mjs <out dir> <es-module-lexer module> <entry.ts>...");
  process.exit(2);
}
const { init, parse } = await import(pathToFileURL(lexerPath).href);
await init;

const root = resolve(import.meta.dirname, "../..");
const jsName = (path) => path.replace(/\.ts$/, ".js");
const isRelative = (specifier) => specifier.startsWith("./") || specifier.startsWith("../");

const seen = new Set();
const queue = entries.map((e) => resolve(e));
let files = 0;
while (queue.length > 0) {
  const file = queue.pop();
  if (seen.has(file)) continue;
  seen.add(file);
  const rel = relative(root, file);
  if (rel.startsWith("..")) throw new Error(`${file} is outside the repository`);
  const source = readFileSync(file, "utf8");
  const code = file.endsWith(".ts") ? stripTypeScriptTypes(source, { mode: "strip", sourceUrl: file }) : source;
  const [imports] = parse(code, file);
  let out = "";
  let at = 0;
  for (const entry of imports) {
    const specifier = entry.specifier;
    if (typeof specifier !== "string" || entry.type === "import-meta" || entry.glob) continue;
    if (entry.typeOnly) throw new Error(`${rel}: a type-only import of ${specifier} survived type stripping`);
    if (!isRelative(specifier)) continue;
    queue.push(resolve(dirname(file), specifier));
    if (!specifier.endsWith(".ts")) continue;
    // A dynamic import's range includes the quotes; a static one's does not.
    let start = entry.start;
    let end = entry.end;
    if (code[start] === '"' || code[start] === "'") {
      start++;
      end--;
    }
    if (code.slice(start, end) !== specifier) {
      throw new Error(`${rel}: cannot rewrite the escaped specifier ${specifier}`);
    }
    out += code.slice(at, start) + jsName(specifier);
    at = end;
  }
  out += code.slice(at);
  const target = resolve(outDir, jsName(rel));
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, out);
  files++;
}
// The npm package's own package.json says the same: its .js files are ES modules.
writeFileSync(resolve(outDir, "package.json"), JSON.stringify({ type: "module", private: true }) + "\n");
console.log(`${files} files`);
