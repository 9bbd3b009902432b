import type { JsonPath } from "./json-pointer.ts";
import { toPointer } from "./json-pointer.ts";

/** One thing wrong with a rule file: where (file, JSON pointer, line) and what to do about it. */
export interface RuleProblem {
  file: string;
  /** RFC 6901 pointer into the file, e.g. /conditions/all/0/fact; "" is the whole document. */
  pointer: string;
  message: string;
  /** A near miss's likely intended spelling ("did you mean X?"). */
  suggestion?: string;
  line?: number;
  column?: number;
}

/** Collects problems for one document, addressed by path. */
export class ProblemList {
  readonly problems: RuleProblem[] = [];

  constructor(readonly file: string) {}

  add(path: JsonPath, message: string, suggestion?: string): void {
    const problem: RuleProblem = { file: this.file, pointer: toPointer(path), message };
    if (suggestion !== undefined) problem.suggestion = suggestion;
    this.problems.push(problem);
  }
}
