import { CellError, InputError } from "../errors/index.ts";
import type { SourceRow } from "./source.ts";
import type { ImportSpec, RowFields } from "./types.ts";
import { cellText, type FieldGetter, isBlank, type Raw } from "./values.ts";

const MAX_ATTRIBUTE_NAMES = 10_000;
const MAX_IGNORED_LISTED = 50;

/**
 * Maps a file's columns to the import's known columns (case-insensitively)
 * and to attributes, and reads each row's fields through that map. Records
 * which known columns the file has, its attribute names and the columns it
 * ignores; all of them are bounded, however many rows the file has.
 */
export class FieldReader {
  readonly present = new Set<string>();
  readonly attributeNames = new Set<string>();
  readonly ignored = new Set<string>();
  private readonly known: ReadonlySet<string>;
  private readonly columnOf = new Map<string, string | null>();
  // CSV: columns classified once from the header.
  private readonly knownIndex = new Map<string, number>();
  private readonly attributeIndex: [number, string][] = [];
  private cells: string[] = [];
  private readonly csvFields: FieldGetter;

  constructor(
    private readonly spec: ImportSpec,
    private readonly name: string,
    header: string[] | undefined,
  ) {
    this.known = new Set(spec.known);
    if (header) {
      this.checkHeader(header);
      header.forEach((column, i) => {
        const known = this.classify(column);
        if (known) this.knownIndex.set(known, i);
        else if (spec.attributes) this.attributeIndex.push([i, column]);
      });
    }
    this.csvFields = {
      get: (column) => {
        const i = this.knownIndex.get(column);
        if (i === undefined) return undefined;
        const value = this.cells[i]!.trim();
        return value === "" ? undefined : value;
      },
    };
  }

  /** The row's fields, or undefined when the row itself could not be read. */
  fields(row: SourceRow): RowFields | undefined {
    if (row.values) {
      this.cells = row.values;
      return {
        known: this.csvFields,
        attributes: this.attributeIndex.length ? this.csvAttributes() : undefined,
      };
    }
    if (row.fields) return this.objectFields(row.fields);
    return undefined;
  }

  private classify(key: string): string | null {
    const cached = this.columnOf.get(key);
    if (cached !== undefined) return cached;
    const lower = key.trim().toLowerCase();
    const column = this.known.has(lower) ? lower : null;
    if (column) this.present.add(column);
    else if (this.spec.attributes) {
      if (!this.attributeNames.has(key) && this.attributeNames.size >= MAX_ATTRIBUTE_NAMES) {
        throw new InputError(
          `${this.name}: more than ${MAX_ATTRIBUTE_NAMES} distinct extra fields; attributes this varied belong in fewer columns.`,
        );
      }
      this.attributeNames.add(key);
    } else if (this.ignored.size < MAX_IGNORED_LISTED) this.ignored.add(key);
    if (this.columnOf.size < MAX_ATTRIBUTE_NAMES * 2) this.columnOf.set(key, column);
    return column;
  }

  private csvAttributes(): Record<string, unknown> | undefined {
    let attributes: Record<string, unknown> | undefined;
    for (const [i, key] of this.attributeIndex) {
      const value = this.cells[i]!.trim();
      if (value === "") continue;
      attributes ??= {};
      attributes[key] = value;
    }
    return attributes;
  }

  private objectFields(fields: Record<string, unknown>): RowFields {
    const known = new Map<string, Raw>();
    let attributes: Record<string, unknown> | undefined;
    for (const key in fields) {
      const raw = fields[key];
      const column = this.classify(key);
      if (column) {
        if (isBlank(raw)) continue;
        try {
          known.set(column, cellText(raw));
        } catch (err) {
          if (err instanceof CellError) throw new CellError(`${column} ${err.message}`);
          throw err;
        }
      } else if (this.spec.attributes && !isBlank(raw)) {
        attributes ??= {};
        attributes[key.trim()] = typeof raw === "string" ? raw.trim() : raw;
      }
    }
    return { known, attributes };
  }

  private checkHeader(columns: string[]): void {
    const { name } = this;
    const seen = new Map<string, number>();
    columns.forEach((column, i) => {
      if (column === "") {
        throw new InputError(
          `${name} line 1: column ${i + 1} of the header has no name; name it or remove the column.`,
        );
      }
      const key = this.classify(column) ?? column;
      const previous = seen.get(key);
      if (previous !== undefined) {
        throw new InputError(
          `${name} line 1: the header names column "${key}" twice (columns ${previous + 1} and ${i + 1}).`,
        );
      }
      seen.set(key, i);
    });
    const missing = this.spec.missingColumns(this.present);
    if (missing) throw new InputError(`${name} line 1: ${missing} The header is: ${columns.join(",")}`);
  }
}
