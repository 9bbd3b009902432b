import path from "node:path";
import cliProgress from "cli-progress";
import type { Output } from "./context.ts";

/** A plain text table: columns padded to their widest cell, numbers right-aligned. */
export function table(headers: string[], body: (string | number)[][]): string {
  const cells = [headers, ...body.map((r) => r.map(String))];
  const numeric = headers.map((_, i) => body.length > 0 && body.every((r) => typeof r[i] === "number"));
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return (
    [line(headers), line(widths.map((w) => "-".repeat(w))), ...cells.slice(1).map(line)].join("\n") + "\n"
  );
}

/** A progress bar on a terminal; nothing when the output is a file or a pipe. */
export function progressBar(out: Output, label: string) {
  if (!out.isTTY) return { update: (_done: number, _total: number) => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `${label.padEnd(16)} [{bar}] {percentage}% {value}/{total}`,
      stream: out as NodeJS.WritableStream,
      clearOnComplete: true,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done: number, total: number) {
      if (!started) {
        bar.start(total, 0);
        started = true;
      }
      bar.setTotal(total);
      bar.update(done);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/** `rules/` for a directory below the working directory, else the path as given. */
export function displayDir(dir: string): string {
  const relative = path.relative(process.cwd(), dir);
  if (relative === "") return "./";
  const shown = relative.startsWith("..") || path.isAbsolute(relative) ? dir : relative;
  return shown.endsWith(path.sep) ? shown : `${shown}${path.sep}`;
}

/** Writes a chunk and waits when a stream's buffer is full, so big exports stay flat in memory. */
export async function writeChunk(out: Output, text: string): Promise<void> {
  if (out.write(text) === false) await out.drain?.();
}
