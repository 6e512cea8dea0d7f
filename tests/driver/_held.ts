/**
 * A head reader for tests of {@linkcode HeldInput}: its head ends at the
 * first "|" (the rest of that chunk is handed over first); what it saw of the
 * head, and an end before the head, are recorded.
 */
import { HeldInput } from "../../src/driver/transport.ts";
import type { Transport, TransportSink } from "../../src/driver/transport.ts";

export class PipeHeadReader extends HeldInput implements TransportSink {
  /** The chunks the head reader got, as text ("end" for an end before the head). */
  saw: string[] = [];
  done = false;
  constructor(transport: Transport) {
    super(transport);
    transport.start(this);
  }
  data(chunk: Uint8Array): boolean | void {
    if (this.done) return this.holdData(chunk);
    this.saw.push(new TextDecoder().decode(chunk));
    const at = chunk.indexOf(0x7c);
    if (at < 0) return true;
    this.done = true;
    this.keepRest(chunk.subarray(at + 1));
    return false;
  }
  end(error?: unknown): void {
    if (this.done) return this.holdEnd(error);
    this.saw.push("end");
  }
}
