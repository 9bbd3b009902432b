import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/**
 * A temporary file of this process only (mode 0600) that chunks are appended
 * to and read back in order; removed by release().
 */
export class SpillFile {
  readonly path = path.join(os.tmpdir(), `signaltag-sums-${randomBytes(8).toString("hex")}`);
  private readonly fd = fs.openSync(this.path, "w+", 0o600);

  append(chunks: Iterable<Uint8Array>): void {
    for (const chunk of chunks) fs.writeSync(this.fd, chunk);
  }

  /** What was appended, in chunks of at most a megabyte (each a copy of its own). */
  *read(): Generator<Buffer> {
    const chunk = Buffer.allocUnsafe(1 << 20);
    let position = 0;
    for (;;) {
      const n = fs.readSync(this.fd, chunk, 0, chunk.length, position);
      if (n === 0) break;
      position += n;
      yield Buffer.from(chunk.subarray(0, n));
    }
  }

  release(): void {
    fs.closeSync(this.fd);
    fs.rmSync(this.path, { force: true });
  }
}
