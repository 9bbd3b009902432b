import type { Output } from "./context.ts";
import { ExitCode } from "./exit.ts";

/**
 * A process stream as a command's output, for when its reader may go away
 * early (`signaltag export assignments | head -1`). Node reports that as an
 * EPIPE 'error' event, which would crash the process with a stack trace; here
 * it only marks the output closed. A write to a closed stdout then stops the
 * command with exit code 0, as the shell expects of a producer whose reader
 * has all it wanted; writes to a closed stderr are dropped.
 */
export function pipeOutput(stream: NodeJS.WriteStream, onClosed: "stop" | "drop"): Output {
  let closed = false;
  stream.on("error", (err: NodeJS.ErrnoException) => {
    // A write racing the first EPIPE fails with ERR_STREAM_DESTROYED: the same closed reader.
    if (err.code === "EPIPE" || closed) {
      closed = true;
      return;
    }
    throw err;
  });
  return {
    get isTTY() {
      return stream.isTTY;
    },
    write(text: string) {
      if (closed) {
        if (onClosed === "stop") throw new ExitCode(0);
        return true;
      }
      return stream.write(text);
    },
    drain() {
      if (closed || !stream.writableNeedDrain) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const done = () => {
          stream.off("drain", done);
          stream.off("close", done);
          stream.off("error", done);
          resolve();
        };
        stream.on("drain", done);
        stream.on("close", done);
        stream.on("error", done);
      });
    },
  };
}
