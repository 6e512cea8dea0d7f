// No import cycles among the library's files: the import graph of every .ts
// file under src/ and of the entry files, built from their relative
// `import … from`, `import type … from`, `export … from`, side-effect
// `import "…"` and literal `import("…")` specifiers. A cycle makes load order
// decide what a module sees at top level, and hides which layer sits on which.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const ENTRY_FILES = ["mod.ts", "server.ts", "client.ts", "cli.ts", "topics.ts", "redis.ts"];

/** The .ts files below `dir`, as absolute paths. */
function filesUnder(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[])
    .filter((name) => name.endsWith(".ts"))
    .map((name) => `${dir}/${name.replaceAll("\\", "/")}`);
}

/** The text of a module without its comments (doc examples import too), strings kept. */
function withoutComments(text: string): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      i = end === -1 ? text.length : end + 2;
    } else if (c === "/" && text[i + 1] === "/") {
      const end = text.indexOf("\n", i);
      i = end === -1 ? text.length : end;
    } else if (c === '"' || c === "'" || c === "`") {
      // Copy the string whole, so a "//" or "/*" inside it is not a comment.
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const PATTERNS = [
  // import x from "…", import { a, b } from "…", import type { T } from "…",
  // export { a } from "…", export * from "…", export type { T } from "…"
  /(?:^|[;\n])\s*(?:import|export)\b[^;"'`]*?\bfrom\s*["']([^"']+)["']/g,
  // import "…" (for its effect)
  /(?:^|[;\n])\s*import\s*["']([^"']+)["']/g,
  // import("…")
  /\bimport\(\s*["']([^"']+)["']\s*\)/g,
];

/** The relative specifiers `file` imports, resolved to paths from the root. */
function importsOf(file: string): string[] {
  const text = withoutComments(readFileSync(file, "utf8"));
  const found = new Set<string>();
  for (const pattern of PATTERNS) {
    for (const match of text.matchAll(pattern)) {
      const specifier = match[1];
      if (!specifier.startsWith("./") && !specifier.startsWith("../")) continue;
      const resolved = fileURLToPath(new URL(specifier, `file://${file}`));
      found.add(resolved.slice(root.length + 1));
    }
  }
  return [...found];
}

/** The strongly connected components of more than one node, or with a self edge (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter);
    counter++;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || (graph.get(node) ?? []).includes(node)) out.push(component.sort());
    }
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return out;
}

/** One cycle through `start` inside `component`, as "a → b → a", by breadth-first search. */
function cycleThrough(graph: Map<string, string[]>, component: string[], start: string): string {
  const inside = new Set(component);
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const next of graph.get(node) ?? []) {
      if (!inside.has(next)) continue;
      if (next === start) {
        const path = [start];
        for (let at = node; at !== start; at = previous.get(at)!) path.splice(1, 0, at);
        return [...path, start].join(" → ");
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return component.join(", ");
}

function fileGraph(): Map<string, string[]> {
  const files = [...filesUnder(`${root}/src`), ...ENTRY_FILES.map((name) => `${root}/${name}`)];
  const graph = new Map<string, string[]>();
  for (const file of files) graph.set(file.slice(root.length + 1), importsOf(file));
  return graph;
}

/** "src/driver/x.ts" → "src/driver"; an entry file → "(entry)". */
function folderOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash === -1 ? "(entry)" : path.slice(0, slash);
}

describe("the import graph of src/ and the entry files", () => {
  const graph = fileGraph();

  it("sees the imports (the graph is not empty, and it finds a planted cycle)", () => {
    assert.ok(graph.size > 40, `only ${graph.size} files`);
    assert.ok(graph.get("mod.ts")!.includes("server.ts"));
    assert.ok(graph.get("src/protocol/protocol.ts")!.includes("src/protocol/constants.ts"));
    // Type-only imports count: they are edges of the layer picture too.
    assert.ok(graph.get("src/protocol/compression.ts")!.includes("src/protocol/extensions.ts"), "import type");
    assert.ok(graph.get("src/runtime/mod.ts")!.includes("src/runtime/deno.ts"), 'import("…")');
    assert.ok(graph.get("server.ts")!.includes("src/server/handler.ts"), "export type … from");
    const planted = new Map(graph);
    planted.set("src/protocol/constants.ts", ["mod.ts"]);
    assert.ok(cycles(planted).length > 0, "a cycle through mod.ts should be found");
    assert.deepEqual(
      importsOf(`${root}/tests/imports_test.ts`).sort(),
      [],
      "comments and strings with import-like text are not imports",
    );
  });

  it("has no cycle among files", () => {
    const found = cycles(graph).map((component) => cycleThrough(graph, component, component[0]));
    assert.deepEqual(found, [], `import cycles:\n  ${found.join("\n  ")}`);
  });

  // The layer picture of DESIGN.md and README's "Architecture": each folder
  // may import only the folders listed for it (and never one above it).
  const BELOW_RUNTIME = ["src/driver", "src/protocol", "src/codec"];
  const LAYERS: Record<string, string[]> = {
    "src/codec": [],
    "src/protocol": ["src/codec"],
    "src/driver": ["src/protocol", "src/codec"],
    "src/runtime": BELOW_RUNTIME,
    "src/server": ["src/runtime", ...BELOW_RUNTIME],
    "src/client": ["src/runtime", ...BELOW_RUNTIME],
    "src/topics": ["src/server", "src/runtime", ...BELOW_RUNTIME],
    "src/cli": ["src/topics", "src/server", "src/client", "src/runtime", ...BELOW_RUNTIME],
  };

  const folderGraph = (): Map<string, string[]> => {
    const folders = new Map<string, string[]>();
    for (const [file, imports] of graph) {
      const from = folderOf(file);
      const edges = folders.get(from) ?? [];
      for (const target of imports) {
        const to = folderOf(target);
        if (to !== from && !edges.includes(to)) edges.push(to);
      }
      folders.set(from, edges);
    }
    return folders;
  };

  it("has no cycle among folders", () => {
    const folders = folderGraph();
    const found = cycles(folders).map((component) => cycleThrough(folders, component, component[0]));
    assert.deepEqual(found, [], `folder cycles:\n  ${found.join("\n  ")}`);
  });

  it("imports only downwards: each src/ folder uses only the layers below it", () => {
    const folders = folderGraph();
    assert.deepEqual(
      [...folders.keys()].filter((folder) => folder !== "(entry)").sort(),
      Object.keys(LAYERS).sort(),
      "a new folder under src/ needs its place in LAYERS",
    );
    const wrong: string[] = [];
    for (const [file, imports] of graph) {
      const from = folderOf(file);
      if (from === "(entry)") continue;
      for (const target of imports) {
        const to = folderOf(target);
        if (to !== from && !LAYERS[from].includes(to)) wrong.push(`${file} → ${target}`);
      }
    }
    assert.deepEqual(wrong, [], `imports against the layers:\n  ${wrong.join("\n  ")}`);
  });
});
