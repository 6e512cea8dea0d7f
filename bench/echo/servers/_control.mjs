// Shared by the echo servers of bench/echo: prints "PORT <n>" once listening,
// and answers "gc" lines on stdin (a full garbage collection, for the idle
// memory measurement) with "gc done", and "mem" lines with the runtime's
// memoryUsage() as JSON (for looking into the idle memory by hand). Plain
// JavaScript, runs everywhere.
import process from "node:process";

export function ready(port) {
  process.stdout.write(`PORT ${port}\n`);
  let buffered = "";
  process.stdin.on("data", (chunk) => {
    buffered += chunk.toString();
    let nl;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line === "mem") process.stdout.write(JSON.stringify(process.memoryUsage()) + "\n");
      if (line === "gc") {
        collect();
        setTimeout(() => {
          collect();
          process.stdout.write("gc done\n");
        }, 100);
      }
    }
  });
  process.stdin.on("end", () => process.exit(0));
}

function collect() {
  const g = globalThis;
  if (g.Bun) g.Bun.gc(true);
  else if (typeof g.gc === "function") g.gc();
}
