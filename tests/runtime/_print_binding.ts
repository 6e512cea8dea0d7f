// Prints the binding the runtime adapter picked, and whether the adapter
// loads: "<binding> ok <adapter name>" or "<binding> error <message>". Run by
// binding_test.ts in a child process, with WSD_BINDING set.
import { binding, runtimeAdapter } from "../../src/runtime/mod.ts";

try {
  const adapter = await runtimeAdapter();
  console.log(`${binding} ok ${adapter.name}`);
} catch (error) {
  console.log(`${binding} error ${(error as Error).name}: ${(error as Error).message}`);
}
