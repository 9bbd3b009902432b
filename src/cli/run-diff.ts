import { type FileHandle, open } from "node:fs/promises";
import { InputError } from "../errors/index.ts";
import type { LoadedRule } from "../rules/types.ts";
import { DIFF_CSV_HEADER, type DiffChange, diffCsvLines } from "../runs/diff.ts";

/**
 * A dry run's diff file (`run --dry-run --diff FILE`): every would-add and
 * would-remove of every rule run, one CSV line each, written page by page as
 * the run reads them, so its memory stays bounded however many change.
 */
export class DiffFile {
  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
  ) {}

  /** Opens (creates or empties) the file and writes the header; a path that cannot be written is refused. */
  static async create(path: string): Promise<DiffFile> {
    let handle: FileHandle;
    try {
      handle = await open(path, "w");
    } catch (err) {
      const reason =
        (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
      throw new InputError(`--diff ${JSON.stringify(path)} cannot be written (${reason})`, { cause: err });
    }
    await handle.write(DIFF_CSV_HEADER);
    return new DiffFile(path, handle);
  }

  /** The run hook: writes the rule's changes as the run pages through them. */
  readonly onDiff = async (_rule: LoadedRule, pages: AsyncIterable<DiffChange[]>): Promise<void> => {
    for await (const page of pages) await this.handle.write(diffCsvLines(page));
  };

  async close(): Promise<void> {
    await this.handle.close();
  }
}
