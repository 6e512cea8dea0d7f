/**
 * Size check for issue 18: lists every source file over {@linkcode MAX_FILE_LINES}
 * lines and every function over {@linkcode MAX_FUNCTION_LINES} lines under `src/`
 * and in the entry files named by deno.json "exports"; exits 1 if there is any.
 *
 *     deno run -A tools/sizes.ts        node tools/sizes.ts        bun tools/sizes.ts
 *
 * The TypeScript in tools/rt (7.x, the Go port) has no JavaScript API, so this is
 * a scanner rather than a parser: it tokenizes (skipping strings, template
 * literals with nested `${}`, comments and regular expressions), matches braces,
 * and calls a `{` a function body when it follows `=>`, or a parameter list `)`
 * (optionally followed by a return type) that is not the head of `if`, `for`,
 * `while`, `switch`, `catch` or `with`. That covers declarations, expressions,
 * methods, getters/setters, constructors and arrows with a block body. An arrow
 * with an expression body is not measured. A function's length runs from the
 * line of its name (or parameter list) to the line of its closing brace.
 *
 * @module
 */

import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import process from "node:process";

/** Longest allowed source file, in lines (issue 18). */
export const MAX_FILE_LINES = 800;
/** Longest allowed function, in lines (issue 18). */
export const MAX_FUNCTION_LINES = 100;

/** One function found by {@linkcode scanFunctions}. */
export interface FunctionSpan {
  /** Enclosing functions and classes joined by ".", e.g. `Output.write` or `runClient.<arrow>`. */
  name: string;
  /** 1-based line of the name (or of the parameter list for an unnamed function). */
  line: number;
  /** Lines from `line` to the closing brace, both counted. */
  lines: number;
}

/** One file or function over its limit. */
export interface Offender {
  /** `"file"` or `"function"`. */
  kind: "file" | "function";
  /** Path relative to the root given to {@linkcode findOffenders}. */
  path: string;
  /** 1-based line (1 for a file). */
  line: number;
  /** The function's name, or the path for a file. */
  name: string;
  /** Its length in lines. */
  lines: number;
}

interface Token {
  /** "id" (identifier or keyword), "num", "str" (string, template or regex), "p" (punctuation). */
  type: "id" | "num" | "str" | "p";
  text: string;
  line: number;
  /** For "{" "(" "[": index of the matching closer; for closers: of the opener. */
  match: number;
}

// After these keywords a "/" starts a regular expression, not a division.
const REGEX_AFTER = new Set([
  "return",
  "typeof",
  "instanceof",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "case",
  "do",
  "else",
  "yield",
  "await",
]);
const CONTROL = new Set(["if", "for", "while", "switch", "catch", "with"]);
const IDENT_START = /[A-Za-z_$#\\\u0080-\uffff]/;
const IDENT_PART = /[\w$\\\u0080-\uffff]/;

/** Splits TypeScript source into tokens, dropping comments and whitespace. */
export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  // One entry per open "{": true when it is a template literal's "${".
  const braces: boolean[] = [];
  let i = 0;
  let line = 1;
  const n = source.length;
  const push = (type: Token["type"], text: string, at: number) => tokens.push({ type, text, line: at, match: -1 });
  const regexAllowed = (): boolean => {
    const last = tokens.at(-1);
    if (last === undefined) return true;
    if (last.type === "num" || last.type === "str") return false;
    if (last.type === "id") return REGEX_AFTER.has(last.text);
    return last.text !== ")" && last.text !== "]" && last.text !== "}";
  };
  // Reads template characters from i (just after "`" or a closing "}") up to the
  // closing "`" (returns false) or up to and including "${" (returns true).
  const templateChunk = (): boolean => {
    while (i < n) {
      const c = source[i];
      if (c === "\\") {
        if (source[i + 1] === "\n") line++;
        i += 2;
      } else if (c === "`") {
        i++;
        return false;
      } else if (c === "$" && source[i + 1] === "{") {
        i += 2;
        return true;
      } else {
        if (c === "\n") line++;
        i++;
      }
    }
    return false;
  };
  while (i < n) {
    const c = source[i];
    const start = line;
    if (c === "\n") {
      line++;
      i++;
    } else if (c === " " || c === "\t" || c === "\r" || c === "\ufeff") {
      i++;
    } else if (c === "/" && source[i + 1] === "/") {
      while (i < n && source[i] !== "\n") i++;
    } else if (c === "/" && source[i + 1] === "*") {
      const end = source.indexOf("*/", i + 2);
      const stop = end === -1 ? n : end + 2;
      for (let k = i; k < stop; k++) if (source[k] === "\n") line++;
      i = stop;
    } else if (c === '"' || c === "'") {
      i++;
      while (i < n && source[i] !== c && source[i] !== "\n") i += source[i] === "\\" ? 2 : 1;
      i++;
      push("str", c, start);
    } else if (c === "`") {
      i++;
      if (templateChunk()) braces.push(true);
      push("str", "`", start);
    } else if (c === "/" && regexAllowed()) {
      i++;
      let inClass = false;
      while (i < n && source[i] !== "\n") {
        const d = source[i];
        if (d === "\\") i++;
        else if (d === "[") inClass = true;
        else if (d === "]") inClass = false;
        else if (d === "/" && !inClass) break;
        i++;
      }
      i++;
      while (i < n && IDENT_PART.test(source[i])) i++;
      push("str", "/", start);
    } else if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < n && IDENT_PART.test(source[j])) j++;
      push("id", source.slice(i, j), start);
      i = j;
    } else if (c >= "0" && c <= "9" || (c === "." && /[0-9]/.test(source[i + 1] ?? ""))) {
      let j = i + 1;
      while (j < n && /[\w.]/.test(source[j])) j++;
      push("num", source.slice(i, j), start);
      i = j;
    } else if (c === "=" && source[i + 1] === ">") {
      push("p", "=>", start);
      i += 2;
    } else if (c === "{") {
      braces.push(false);
      push("p", "{", start);
      i++;
    } else if (c === "}") {
      i++;
      if (braces.pop() === true) {
        // The end of a template's "${ … }": the template goes on.
        if (templateChunk()) braces.push(true);
      } else {
        push("p", "}", start);
      }
    } else {
      push("p", c, start);
      i++;
    }
  }
  matchBrackets(tokens);
  return tokens;
}

function matchBrackets(tokens: Token[]): void {
  const open: number[] = [];
  const pairs: Record<string, string> = { ")": "(", "]": "[", "}": "{" };
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k];
    if (t.type !== "p") continue;
    if (t.text === "(" || t.text === "[" || t.text === "{") open.push(k);
    else if (t.text in pairs) {
      // Pop to the nearest opener of the right kind, so one stray closer does not derail the rest.
      for (let s = open.length - 1; s >= 0; s--) {
        if (tokens[open[s]].text === pairs[t.text]) {
          t.match = open[s];
          tokens[open[s]].match = k;
          open.length = s;
          break;
        }
      }
    }
  }
}

// Tokens that may appear in a return type between ")" and "{", walked backwards.
const TYPE_PUNCT = new Set([".", "<", ">", "[", "]", "|", "&", ",", "?", "=>", "`", "-"]);

/** If tokens[k] (a "{") is a function body, returns the index of its head token, else -1. */
function functionHead(tokens: Token[], k: number): number {
  const prev = tokens[k - 1];
  if (prev === undefined) return -1;
  if (prev.text === "=>") return arrowHead(tokens, k - 1);
  if (prev.text === ")") return parameterHead(tokens, k - 1);
  // A return type: walk back over type tokens to a ":" right after a ")".
  let angle = 0;
  let walked = 0;
  for (let j = k - 1; j >= 0; j--) {
    const t = tokens[j];
    if (t.type === "p" && (t.text === ")" || t.text === "}" || t.text === "]") && t.match >= 0 && t.match < j) {
      j = t.match;
      walked++;
      continue;
    }
    if (t.text === ":" && t.type === "p") {
      if (walked === 0 || angle !== 0) return -1;
      return tokens[j - 1]?.text === ")" ? parameterHead(tokens, j - 1) : -1;
    }
    if (t.type === "id" || t.type === "num" || t.type === "str" || TYPE_PUNCT.has(t.text)) {
      if (t.text === ">") angle++;
      if (t.text === "<" && --angle < 0) return -1; // inside a type argument, e.g. Promise<{ … }>
      if (t.type === "id" && (t.text === "class" || t.text === "interface" || t.text === "extends")) return -1;
      walked++;
      continue;
    }
    return -1;
  }
  return -1;
}

/** tokens[close] is the ")" of a parameter list (or of a control statement's head). */
function parameterHead(tokens: Token[], close: number): number {
  const open = tokens[close].match;
  if (open < 0) return -1;
  let j = open - 1;
  const before = tokens[j];
  if (before === undefined) return -1;
  if (before.type === "id" && CONTROL.has(before.text)) return -1;
  if (before.type === "p" && before.text === ">") {
    // Generic parameters: skip back to the matching "<".
    let depth = 0;
    for (; j >= 0; j--) {
      if (tokens[j].text === ">") depth++;
      else if (tokens[j].text === "<" && --depth === 0) break;
    }
    j--;
  }
  if (tokens[j]?.type === "p" && tokens[j].text === "]") return tokens[j].match;
  if (tokens[j]?.type === "id") return j;
  // Anything else before "(…) {" (e.g. a return type in parentheses): count it, named by its position.
  return tokens[j]?.text === "*" ? j : open;
}

/** tokens[arrow] is "=>": returns the start of its parameters. */
function arrowHead(tokens: Token[], arrow: number): number {
  let j = arrow - 1;
  // A return type "(a): T => {": walk back to the ":" after the ")".
  for (let s = j; s >= 0 && s > arrow - 60; s--) {
    const t = tokens[s];
    if (t.text === ")" && tokens[s + 1]?.text === ":") {
      j = s;
      break;
    }
    if ((t.text === ")" || t.text === "}" || t.text === "]") && t.match >= 0 && t.match < s) {
      s = t.match;
      continue;
    }
    if (t.text === "=" || t.text === ";" || t.text === "{" || t.text === "(" || t.text === "=>") break;
  }
  const t = tokens[j];
  if (t === undefined) return -1;
  return t.text === ")" && t.match >= 0 ? t.match : j;
}

/** Name for the function whose head is tokens[h] and body starts at tokens[body]. */
function nameOf(tokens: Token[], h: number, body: number): string {
  const head = tokens[h];
  if (head.type === "id" && head.text !== "function" && head.text !== "async" && tokens[body - 1]?.text !== "=>") {
    const before = tokens[h - 1];
    const accessor = before?.type === "id" && (before.text === "get" || before.text === "set") &&
        tokens[h - 2]?.text !== "."
      ? before.text + " "
      : "";
    return accessor + head.text;
  }
  if (head.text === "[") return "[computed]";
  // Unnamed: `const x = function/() =>`, `x: () =>`, `x = () =>`.
  let j = h - 1;
  while (j >= 0 && (tokens[j].text === "async" || tokens[j].text === "function" || tokens[j].text === "*")) j--;
  if (head.text === "function" && tokens[h + 1]?.type === "id") return tokens[h + 1].text;
  if (tokens[j]?.text === "=") return declaredName(tokens, j) ?? "<arrow>";
  if (tokens[j]?.text === ":" && tokens[j - 1]?.type === "id") return tokens[j - 1].text;
  return tokens[body - 1]?.text === "=>" ? "<arrow>" : "<function>";
}

/** The name assigned by the "=" at tokens[eq]: `const x: T =`, `x =`, `this.x =`, `#x =`. */
function declaredName(tokens: Token[], eq: number): string | null {
  // Walk back over a type annotation to `const`/`let`/`var`.
  for (let j = eq - 1; j >= 0 && j > eq - 60; j--) {
    const t = tokens[j];
    if ((t.text === ")" || t.text === "}" || t.text === "]") && t.match >= 0 && t.match < j) {
      j = t.match;
      continue;
    }
    if (t.type === "id" && (t.text === "const" || t.text === "let" || t.text === "var")) {
      return tokens[j + 1]?.type === "id" ? tokens[j + 1].text : null;
    }
    if (t.type !== "id" && t.type !== "num" && t.type !== "str" && !TYPE_PUNCT.has(t.text) && t.text !== ":") break;
  }
  return tokens[eq - 1]?.type === "id" ? tokens[eq - 1].text : null;
}

/** Finds every function with a block body in TypeScript `source`, in source order. */
export function scanFunctions(source: string): FunctionSpan[] {
  const tokens = tokenize(source);
  const found: FunctionSpan[] = [];
  // Names of the enclosing functions/classes, with the index of the "}" that ends each.
  const scopes: { name: string; end: number }[] = [];
  for (let k = 0; k < tokens.length; k++) {
    while (scopes.length > 0 && scopes[scopes.length - 1].end < k) scopes.pop();
    const t = tokens[k];
    if (t.type !== "p" || t.text !== "{" || t.match < 0) continue;
    const h = functionHead(tokens, k);
    if (h >= 0) {
      const name = [...scopes.map((s) => s.name), nameOf(tokens, h, k)].join(".");
      found.push({ name, line: tokens[h].line, lines: tokens[t.match].line - tokens[h].line + 1 });
      scopes.push({ name: nameOf(tokens, h, k), end: t.match });
      continue;
    }
    const cls = className(tokens, k);
    if (cls !== null) scopes.push({ name: cls, end: t.match });
  }
  return found;
}

/** If tokens[k] opens a class body, the class's name. */
function className(tokens: Token[], k: number): string | null {
  for (let j = k - 1; j >= 0 && j > k - 60; j--) {
    const t = tokens[j];
    if ((t.text === ")" || t.text === "}" || t.text === "]") && t.match >= 0 && t.match < j) {
      j = t.match;
      continue;
    }
    if (t.type === "p" && (t.text === ";" || t.text === "{" || t.text === "}" || t.text === "=")) return null;
    if (t.type === "id" && t.text === "class") {
      const next = tokens[j + 1];
      return next.type === "id" && next.text !== "extends" && next.text !== "implements" ? next.text : "<class>";
    }
  }
  return null;
}

/** Number of lines in `text`, as an editor shows them (a final newline ends the last line). */
export function countLines(text: string): number {
  if (text.length === 0) return 0;
  let lines = 1;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lines++;
  return text.endsWith("\n") ? lines - 1 : lines;
}

/** Offenders in one file's text. */
export function checkSource(path: string, text: string): Offender[] {
  const out: Offender[] = [];
  const lines = countLines(text);
  if (lines > MAX_FILE_LINES) out.push({ kind: "file", path, line: 1, name: path, lines });
  for (const f of scanFunctions(text)) {
    if (f.lines > MAX_FUNCTION_LINES) out.push({ kind: "function", path, line: f.line, name: f.name, lines: f.lines });
  }
  return out;
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...await walk(path));
    else if (/\.(ts|tsx|mts|js|mjs)$/.test(entry.name)) out.push(path);
  }
  return out;
}

/** The files checked under `root`: everything under src/ plus deno.json's export targets. */
export async function sourceFiles(root: string): Promise<string[]> {
  const config = JSON.parse(await readFile(join(root, "deno.json"), "utf8")) as { exports?: Record<string, string> };
  const entries = Object.values(config.exports ?? {}).map((p) => join(root, p));
  const files = [...new Set([...entries, ...await walk(join(root, "src"))])];
  return files.sort();
}

/** Every file over {@linkcode MAX_FILE_LINES} and function over {@linkcode MAX_FUNCTION_LINES} under `root`. */
export async function findOffenders(root: string): Promise<Offender[]> {
  const out: Offender[] = [];
  for (const file of await sourceFiles(root)) {
    out.push(...checkSource(relative(root, file).replaceAll("\\", "/"), await readFile(file, "utf8")));
  }
  return out;
}

/** One line per offender: `path:line  name  N lines (limit L)`. */
export function formatOffender(o: Offender): string {
  const limit = o.kind === "file" ? MAX_FILE_LINES : MAX_FUNCTION_LINES;
  return o.kind === "file"
    ? `${o.path}: file of ${o.lines} lines (limit ${limit})`
    : `${o.path}:${o.line}: ${o.name}, ${o.lines} lines (limit ${limit})`;
}

if (import.meta.main) {
  const root = join(import.meta.dirname ?? ".", "..");
  const offenders = await findOffenders(root);
  for (const o of offenders) console.log(formatOffender(o));
  console.log(`${offenders.length} over the limits (files ${MAX_FILE_LINES} lines, functions ${MAX_FUNCTION_LINES})`);
  process.exitCode = offenders.length > 0 ? 1 : 0;
}
