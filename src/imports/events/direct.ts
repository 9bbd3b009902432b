import fs from "node:fs";
import type { Database, Tx } from "../../db/client.ts";
import { copyText } from "../../db/copy.ts";
import { transactionConnection, transactionWithOutcome } from "../../db/transaction.ts";
import { CopyRefused } from "../../errors/index.ts";
import {
  accountsThroughUsers,
  addEventRollups,
  copyRollups,
  lockRollups,
  mergeRollupSums,
  rollupsWithin,
  rollupsWithinEvents,
} from "../rollups.ts";
import { formatOf, type ImportSource } from "../source.ts";
import {
  allowImportMemory,
  analyzeEvents,
  COPY_EVENTS,
  countBadEvents,
  countBadReferences,
  eachUserOfReferences,
  fillAccounts,
  SCANNED_COLUMNS,
  storedEvents,
  touchedOfNewRollups,
} from "../sql/events-direct.ts";
import { collectTouched, type TouchedRow } from "../sql/shared.ts";
import type { FallbackReason, ImportFallback, ImportOptions, ImportResult, ImportSpec } from "../types.ts";
import { firstRowLacksAccount, splitHeader } from "./header.ts";
import { sameDays, userAccounts, valueRanks } from "./lookups.ts";
import { type ScanResult, scanEvents } from "./scan.ts";
import { EventSums } from "./sums.ts";

/** What the direct path came to: the import's result, or why the exact path must run instead (nothing kept). */
type DirectOutcome = { result: ImportResult } | { fallback: ImportFallback };

function fellBack(reason: FallbackReason, detail: string): DirectOutcome {
  return { fallback: { reason, detail } };
}

/** Why a header (lowercase column names) does not suit the direct path, or undefined when it does. */
function columnsProblem(columns: readonly string[], spec: ImportSpec): string | undefined {
  if (new Set(columns).size !== columns.length) return "a column is named twice";
  const other = columns.find((c) => !(SCANNED_COLUMNS as readonly string[]).includes(c));
  if (other !== undefined) return `the direct path does not load column ${other}`;
  return spec.missingColumns(new Set(columns));
}

/**
 * The direct path for an events CSV on Postgres: the file's bytes are checked
 * as they stream and sent as binary COPY data, in the import's transaction,
 * straight into activity_events. While Postgres stores them, this process
 * sums the rollups and collects the file's distinct (user, account)
 * references (EventSums); the references are then checked and the sums
 * loaded into the rollups. When the sums are given up (see EventSums), the
 * references are checked on the stored rows and the rollups summed from them
 * instead. Each event is written once, and no JavaScript string is made of
 * its fields.
 *
 * It applies to a file of known columns without event_id; it gives up (the
 * transaction rolled back) as soon as anything would need a message or a
 * decision of the exact path: a bad value, an unknown user or account, a
 * quoted field. The caller then runs the exact path, which reports the lines
 * or skips them. A file that is refused is thus read twice.
 */
export async function importEventsDirect(
  database: Database,
  source: ImportSource,
  spec: ImportSpec,
  opts: ImportOptions & { timezone: string },
): Promise<DirectOutcome> {
  if (database.kind !== "postgres")
    return fellBack("embedded database", "the direct path needs a Postgres server");
  const file = typeof source === "string" ? source : "path" in source ? source.path : undefined;
  if (file === undefined) return fellBack("not a csv file", "a stream, not a file");
  if (formatOf(file) !== "csv") return fellBack("not a csv file", `${file} is not a .csv file`);
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(file);
  } catch {
    return fellBack("not a csv file", `${file} cannot be read`);
  }
  if (!stat.isFile()) return fellBack("not a csv file", `${file} is not a regular file`);
  const stream = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  // Sums that may have spilled to a temporary file, removed whatever the outcome.
  let spilling: EventSums | undefined;
  try {
    const split = await splitHeader(stream);
    if (!split) return fellBack("columns", "the first line is not a plain header");
    const columns = split.columns.map((c) => c.toLowerCase());
    const problem = columnsProblem(columns, spec);
    if (problem !== undefined) return fellBack("columns", problem);
    // A row of an events file takes about 60 bytes.
    const sums = new EventSums(opts.timezone, { expectedRows: stat.size / 60 });
    spilling = sums;
    const direct: DirectFile = {
      name: file,
      size: stat.size,
      stream,
      columns,
      first: split.first,
      body: split.body,
    };
    return await transactionWithOutcome(database.db, async (tx) => {
      const outcome = await loadDirect(tx, direct, spec, sums, opts);
      return { value: outcome, commit: "result" in outcome };
    });
  } finally {
    stream.destroy();
    spilling?.release();
  }
}

interface DirectFile {
  name: string;
  size: number;
  stream: fs.ReadStream;
  /** The header's column names, lowercase. */
  columns: string[];
  /** What was read past the header, and the rows from there on. */
  first: Buffer;
  body: AsyncGenerator<Buffer>;
}

/** The direct path inside the import's transaction, which is kept only when this returns a result. */
async function loadDirect(
  tx: Tx,
  file: DirectFile,
  spec: ImportSpec,
  summed: EventSums,
  opts: ImportOptions & { timezone: string },
): Promise<DirectOutcome> {
  const connection = transactionConnection(tx);
  if (!connection)
    return fellBack("no connection", "the transaction has no connection of its own to COPY on");
  const started = performance.now();
  // Rows that leave account_id empty get their user's as they stream, from
  // every user's account loaded first, instead of an update of every
  // stored event afterwards.
  const accounts = firstRowLacksAccount(file.first, file.columns)
    ? await userAccounts(connection)
    : undefined;
  const scan: ScanResult = { rows: 0, fillAccount: false };
  const progress = (phase: "reading" | "merging") =>
    opts.onProgress?.({ phase, bytesRead: file.stream.bytesRead, totalBytes: file.size, rows: scan.rows });
  const data = scanEvents(file.body, file.columns, spec, scan, () => progress("reading"), summed, accounts);
  const refused = await copyText(connection, COPY_EVENTS, data).then(
    () => undefined,
    (err: unknown) => {
      // A value the scanner let through that Postgres refuses: the exact path names the line.
      if (err instanceof CopyRefused || (err instanceof Error && err.name === "PostgresError"))
        return err.message;
      throw err;
    },
  );
  if (scan.fallback) return { fallback: scan.fallback };
  if (refused !== undefined) return fellBack("bad row", refused);
  progress("merging");
  const loaded = performance.now();

  // As on the exact path: the rollups hash their rows.
  await allowImportMemory(tx);
  let sums: EventSums | undefined = summed;
  let fallback = summed.fallback;
  if (!fallback && !(await sameDays(tx, summed, opts.timezone))) {
    fallback = { reason: "timezone", detail: "Postgres puts an hour of the file at another UTC offset" };
  }
  if (fallback) sums = undefined;
  if (!sums || scan.fillAccount) await analyzeEvents(tx);
  if (scan.fillAccount) await fillAccounts(tx);
  const bad = sums
    ? await countBadReferences(tx, connection, sums.referencesCopyData())
    : await countBadEvents(tx);
  if (bad > 0) return fellBack("bad reference", "a row refers to an unknown or other user or account");
  if (sums?.throughUsers && !sums.partialBySpill) {
    // Users named without an account: their sums go to their accounts
    // here, so that none waits for a join in SQL (read in batches).
    const resolving = sums;
    await eachUserOfReferences(connection, (user, account) => resolving.setAccount(user, account));
    sums.resolveAccounts();
    // Given up (an id past what the sums keep): summed from the stored events below.
    if (sums.fallback !== undefined) {
      fallback = sums.fallback;
      sums = undefined;
    }
  }
  if (sums?.partialBySpill) {
    fallback = {
      reason: "spilled sums",
      detail: "the sums outgrew their memory; their parts were added up in SQL",
    };
  }
  const checked = performance.now();

  const limit = opts.touchedLimit ?? 10_000;
  await lockRollups(tx);
  const touchedRows = sums
    ? await writeSums(tx, sums, limit)
    : await addEventRollups<TouchedRow>(tx, {
        events: storedEvents(),
        timezone: opts.timezone,
        fresh: !(await rollupsWithinEvents(tx, storedEvents(), opts.timezone)),
        select: touchedOfNewRollups(limit),
      });
  const { touched } = collectTouched(touchedRows, limit);
  return {
    result: {
      entity: spec.entity,
      source: file.name,
      rows: scan.rows,
      imported: scan.rows,
      inserted: scan.rows,
      updated: 0,
      duplicates: 0,
      skipped: 0,
      problems: [],
      problemCount: 0,
      ignoredColumns: [],
      touched,
      path: "direct",
      ...(fallback ? { fallback } : {}),
      timings: {
        read: (loaded - started) / 1000,
        check: (checked - loaded) / 1000,
        merge: (performance.now() - checked) / 1000,
      },
    },
  };
}

/**
 * Loads the sums into the rollups (the caller holds lockRollups()) and
 * returns the touched entities: those the file names, and the accounts of
 * users it names alone.
 */
async function writeSums(tx: Tx, sums: EventSums, limit: number): Promise<TouchedRow[]> {
  // When no entity has rollups on the file's days (a first import, or days
  // after the last ones imported), every sum is a new key.
  const fresh = !(await rollupsWithin(tx, sums.firstDay, sums.lastDay));
  if (fresh && !sums.partial) {
    await copyRollups(tx, sums.copyData(await valueRanks(tx, sums)));
  } else {
    // Partial sums are added up by key in SQL, which orders them itself.
    const ranks = sums.partial ? undefined : await valueRanks(tx, sums);
    await mergeRollupSums(tx, sums.copyData(ranks), { partial: sums.partial, fresh });
  }
  const named = sums.named(limit + 1);
  const accounts = new Set(named.accounts);
  if (sums.throughUsers && accounts.size <= limit) {
    for (const id of await accountsThroughUsers(tx, limit + 1)) accounts.add(id);
  }
  const row = (kind: string) => (id: string) => ({ kind, id, a: null, b: null });
  return [...[...accounts].map(row("account")), ...named.users.map(row("user"))];
}
