import { PassThrough } from "node:stream";
import type { LoadedRule } from "../../rules/types.ts";
import { DIFF_CSV_HEADER, type DiffChange, diffCsvLines } from "../../runs/diff.ts";
import { resultInWords } from "../../runs/explanation-words.ts";
import type { RunResult } from "../../runs/run-result.ts";

/**
 * A dry run's whole diff as a response body, written while the run reads it
 * (so a rule changing 400,000 entities never sits in memory): CSV
 * (entity_type,entity_id,tag,change,explanation) or JSON
 * `{ queued, asOf, diff: [...], results: [...] }`. The run waits while the
 * client reads; a client that goes away fails the run, which then rolls back
 * like any dry run.
 */
export function diffResponse(
  format: "csv" | "json",
  asOf: Date,
  run: (
    onDiff: (rule: LoadedRule, pages: AsyncIterable<DiffChange[]>) => Promise<void>,
  ) => Promise<RunResult[]>,
): PassThrough {
  const body = new PassThrough();
  let gone = false;
  body.once("close", () => {
    gone = true;
  });
  const write = (chunk: string) =>
    new Promise<void>((resolve, reject) => {
      if (gone) return reject(new Error("the client closed the response"));
      if (body.write(chunk)) return resolve();
      const onDrain = () => {
        body.off("close", onClose);
        resolve();
      };
      const onClose = () => {
        body.off("drain", onDrain);
        reject(new Error("the client closed the response"));
      };
      body.once("drain", onDrain);
      body.once("close", onClose);
    });
  let first = true;
  const onDiff = async (_rule: LoadedRule, pages: AsyncIterable<DiffChange[]>) => {
    for await (const page of pages) {
      if (page.length === 0) continue;
      if (format === "csv") {
        await write(diffCsvLines(page));
        continue;
      }
      await write(page.map((c, i) => `${first && i === 0 ? "" : ","}${JSON.stringify(c)}`).join(""));
      first = false;
    }
  };
  body.write(
    format === "csv"
      ? DIFF_CSV_HEADER
      : `{"queued":false,"asOf":${JSON.stringify(asOf.toISOString())},"diff":[`,
  );
  run(onDiff).then(
    (results) =>
      body.end(format === "csv" ? undefined : `],"results":${JSON.stringify(results.map(resultInWords))}}`),
    (err: unknown) => body.destroy(err instanceof Error ? err : new Error(String(err))),
  );
  return body;
}
