import type { Database } from "../db/client.ts";
import { CellError } from "../errors/index.ts";
import { importEventsDirect } from "./events/direct.ts";
import { addEventRollups, lockRollups, rollupsWithinEvents } from "./rollups.ts";
import { runImport } from "./run.ts";
import type { ImportSource } from "./source.ts";
import {
  badEventRows,
  countsAndTouchedOfInserted,
  countsAndTouchedOfStaged,
  fillStagedAccounts,
  INSERTED,
  insertNewEvents,
  insertStagedEvents,
} from "./sql/events.ts";
import { collectTouched, type TouchedRow } from "./sql/shared.ts";
import type { ImportOptions, ImportResult, ImportSpec } from "./types.ts";
import { optional, positiveCount, required, text, timestamp } from "./values.ts";

export interface ImportEventsOptions extends ImportOptions {
  /** The workspace time zone: rollups count each event on its calendar day there. */
  timezone: string;
}

/** Set by convert() when some row names a user but not the account, which the merge then looks up. */
const FILL_ACCOUNT = "fill-account";

function eventsSpec(timezone: string): ImportSpec {
  return {
    entity: "events",
    staging: [
      { name: "user_id", type: "text" },
      { name: "account_id", type: "text" },
      { name: "activity", type: "text not null" },
      { name: "module", type: "text" },
      { name: "occurred_at", type: "timestamptz not null" },
      { name: "count", type: "integer not null" },
      { name: "event_id", type: "text" },
    ],
    known: ["user_id", "account_id", "activity", "module", "occurred_at", "count", "event_id"],
    attributes: false,
    missingColumns(present) {
      const missing = ["activity", "occurred_at"].filter((c) => !present.has(c));
      if (!present.has("user_id") && !present.has("account_id")) missing.unshift("user_id or account_id");
      return missing.length
        ? `missing required column${missing.length > 1 ? "s" : ""} ${missing.join(", ")}; an events file needs user_id and/or account_id, activity and occurred_at.`
        : undefined;
    },
    convert({ known }, flags) {
      const userId = optional(known, "user_id", text);
      const accountId = optional(known, "account_id", text);
      if (userId === null && accountId === null) {
        throw new CellError("user_id and account_id are both empty; an event needs at least one of them");
      }
      if (accountId === null) flags.add(FILL_ACCOUNT);
      return [
        userId,
        accountId,
        required(known, "activity", text),
        optional(known, "module", text),
        required(known, "occurred_at", timestamp),
        optional(known, "count", positiveCount) ?? "1",
        optional(known, "event_id", text),
      ];
    },
    badRows(staging, present) {
      return badEventRows(staging, present.has("event_id"));
    },
    async merge({ tx, staging, present, touchedLimit, flags }) {
      if (flags.has(FILL_ACCOUNT)) await fillStagedAccounts(tx, staging);
      let result: TouchedRow[];
      await lockRollups(tx);
      // No entity has rollups on the file's days: every rollup key is new.
      const fresh = !(await rollupsWithinEvents(tx, staging, timezone));
      if (present.has("event_id")) {
        // Events whose event_id is already stored are not inserted, so they never
        // reach the rollups either: the rollups read the rows actually inserted.
        result = await addEventRollups<TouchedRow>(tx, {
          before: insertNewEvents(staging),
          events: INSERTED,
          timezone,
          fresh,
          select: countsAndTouchedOfInserted(staging, touchedLimit),
        });
      } else {
        // Every staged event is inserted, and the rollups read the staged rows.
        await insertStagedEvents(tx, staging);
        await addEventRollups(tx, { events: staging, timezone, fresh });
        result = await countsAndTouchedOfStaged(tx, staging, touchedLimit);
      }
      const { counts, touched } = collectTouched(result, touchedLimit);
      const inserted = Number(counts?.a ?? 0);
      return { inserted, updated: 0, duplicates: Number(counts?.b ?? 0) - inserted, touched };
    },
  };
}

/**
 * Imports activity events from a .csv or .ndjson file (or a stream): columns
 * user_id, account_id, activity, module, occurred_at, count, event_id. Events
 * are stored raw and added to the daily rollups in the same transaction. An
 * event may leave account_id empty and take its user's; its user and account
 * must exist. With an event_id column, events already imported are ignored;
 * without it, importing a file twice adds its events twice. A file with an
 * invalid row is refused whole with an InputError, unless opts.skipInvalid.
 */
export async function importEvents(
  database: Database,
  source: ImportSource,
  opts: ImportEventsOptions,
): Promise<ImportResult> {
  const spec = eventsSpec(opts.timezone);
  const direct = await importEventsDirect(database, source, spec, opts);
  if ("result" in direct) return direct.result;
  return { ...(await runImport(database, source, spec, opts)), fallback: direct.fallback };
}
