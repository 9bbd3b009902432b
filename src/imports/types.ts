import type { SQL } from "drizzle-orm";
import type { Tx } from "../db/client.ts";
import type { FieldGetter } from "./values.ts";

export type ImportEntity = "accounts" | "users" | "events";

export interface ImportOptions {
  /** Import the valid rows and report the others, instead of refusing the file. */
  skipInvalid?: boolean;
  /** Called every few thousand rows while the file is read, and once when merging starts. */
  onProgress?: (progress: ImportProgress) => void;
  /**
   * At most this many touched ids of each kind are returned (default 10,000);
   * `touched.complete` is false when there were more.
   */
  touchedLimit?: number;
}

export interface ImportProgress {
  /** Reading and staging the file, then checking and merging the staged rows. */
  phase: "reading" | "merging";
  bytesRead: number;
  totalBytes: number | undefined;
  rows: number;
}

/**
 * How an import ran: "direct" streams a plain events CSV straight into the
 * tables on a Postgres server; "exact" stages, checks and merges the rows
 * (every import of accounts and users, and events the direct path leaves).
 */
export type ImportPath = "direct" | "exact";

/**
 * Why an import left its fastest route. With path "exact": why the direct
 * path was not taken, or was given up and rolled back ("embedded database",
 * "not a csv file", "columns", "quoted field", "bad row", "bad reference",
 * "no connection"). With path "direct": why the rollups were not loaded from
 * the sums this process kept, and were summed from the stored events in SQL
 * instead ("timezone", "too many ids", "day out of range") or added up by key
 * there ("spilled sums").
 */
export type FallbackReason =
  | "embedded database"
  | "not a csv file"
  | "columns"
  | "quoted field"
  | "bad row"
  | "not utf-8"
  | "bad reference"
  | "no connection"
  | "timezone"
  | "too many ids"
  | "day out of range"
  | "spilled sums";

export interface ImportFallback {
  reason: FallbackReason;
  /** What exactly, for a person reading it. */
  detail: string;
}

/** One offending row: its physical line in the file and what is wrong with it. */
export interface ImportProblem {
  line: number;
  message: string;
}

export interface ImportResult {
  entity: ImportEntity;
  /** The file (or stream name) imported. */
  source: string;
  /** Data rows read from the file. */
  rows: number;
  /** Rows written: accounts/users inserted or updated, events inserted. */
  imported: number;
  inserted: number;
  updated: number;
  /** Events not inserted because their event_id was already imported. */
  duplicates: number;
  /** Invalid rows left out (only with skipInvalid). */
  skipped: number;
  /** The first offending rows by line (at most 20). */
  problems: ImportProblem[];
  /** How many rows were invalid in all. */
  problemCount: number;
  /** Columns the import does not use (events have no attributes). */
  ignoredColumns: string[];
  /** Entities whose data changed, for re-evaluation; capped by touchedLimit. */
  touched: { accounts: string[]; users: string[]; complete: boolean };
  /** Which way the rows went in (see ImportPath). */
  path: ImportPath;
  /** Why the import left its fastest route, if it did (see FallbackReason). */
  fallback?: ImportFallback;
  /** Seconds spent reading and staging the file, checking the staged rows, and merging them. */
  timings: { read: number; check: number; merge: number };
}

interface StagingColumn {
  name: string;
  type: string;
}

/** The known fields of one row (trimmed; blank values read as undefined) and its extra fields. */
export interface RowFields {
  known: FieldGetter;
  attributes: Record<string, unknown> | undefined;
}

interface MergeContext {
  tx: Tx;
  staging: SQL;
  /** Known columns the file has (CSV: in the header; NDJSON: in any row). */
  present: ReadonlySet<string>;
  /** Names of the file's extra columns (attributes); a blank value removes the attribute. */
  attributeNames: readonly string[];
  touchedLimit: number;
  /** Set by the spec's convert(): flags it wants to pass to its merge. */
  flags: ReadonlySet<string>;
}

interface MergeOutcome {
  inserted: number;
  updated: number;
  duplicates: number;
  touched: ImportResult["touched"];
}

/** What differs between accounts, users and events. */
export interface ImportSpec {
  entity: ImportEntity;
  /** Staging columns in load order, after `line`. */
  staging: readonly StagingColumn[];
  /** Known column names (lowercase); a file's column matches one case-insensitively. */
  known: readonly string[];
  /** Extra columns become attributes (accounts, users) or are ignored (events). */
  attributes: boolean;
  /** Header-level check: the message for missing required columns, or undefined. */
  missingColumns(present: ReadonlySet<string>): string | undefined;
  /** Staging values (without `line`) of a row; throws a CellError for a bad value. */
  convert(row: RowFields, flags: Set<string>): (string | null)[];
  /** SQL selecting (line, message) for rows that fail set-based checks (references, duplicates). */
  badRows(staging: SQL, present: ReadonlySet<string>): SQL;
  /** Moves the staged rows into the real tables (inside the import's transaction). */
  merge(ctx: MergeContext): Promise<MergeOutcome>;
}
