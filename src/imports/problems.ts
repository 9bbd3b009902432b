import { InputError } from "../errors/index.ts";
import type { ImportEntity, ImportProblem } from "./types.ts";

export const MAX_LISTED_PROBLEMS = 20;

/** Counts offending rows and keeps the first few by line (rows arrive in file order). */
export class ProblemLog {
  count = 0;
  readonly listed: ImportProblem[] = [];

  report(line: number, message: string): void {
    this.count++;
    if (this.listed.length < MAX_LISTED_PROBLEMS) this.listed.push({ line, message });
  }

  /** Adds problems found later (sorted by line, at most MAX_LISTED_PROBLEMS) and `count` in all. */
  merge(more: ImportProblem[], count: number): void {
    this.count += count;
    const all = [...this.listed, ...more].sort((a, b) => a.line - b.line).slice(0, MAX_LISTED_PROBLEMS);
    this.listed.splice(0, this.listed.length, ...all);
  }
}

/** The error for a file refused whole: what, which lines and why, and what to do. */
export function refusal(name: string, entity: ImportEntity, rowCount: number, log: ProblemLog): InputError {
  const { count, listed } = log;
  const lines = listed.map((p) => `  line ${p.line}: ${p.message}`);
  if (count > listed.length) lines.push(`  ... and ${count - listed.length} more`);
  const valid = rowCount - count;
  return new InputError(
    `${name}: refused, ${count} of ${rowCount} rows ${count === 1 ? "is" : "are"} invalid; no ${entity} were imported:\n${lines.join("\n")}\n` +
      `Fix these rows and import the file again, or import it with --skip-invalid to load the ${valid} valid row${valid === 1 ? "" : "s"} and skip the rest.`,
    {
      code: "import_refused",
      details: { file: name, entity, rows: rowCount, problemCount: count, problems: listed },
    },
  );
}
