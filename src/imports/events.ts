import { type SQL, sql } from "drizzle-orm";
import { type Database, rows } from "../db/client.ts";
import { importEventsDirect } from "./events/direct.ts";
import { lockRollups, rollupMerge, rollupsWithinEvents } from "./rollups.ts";
import { runImport } from "./run.ts";
import type { ImportSource } from "./source.ts";
import { collectTouched, duplicateIds, quoted, type TouchedRow } from "./sql/shared.ts";
import type { ImportOptions, ImportResult, ImportSpec } from "./types.ts";
import { CellError, optional, positiveCount, required, text, timestamp } from "./values.ts";

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
      const duplicates: SQL = present.has("event_id")
        ? sql`union all ${duplicateIds(staging, "event_id")}`
        : sql``;
      return sql`select s.line,
          case when u.id is null then 'unknown user ' || ${quoted(sql`s.user_id`)} || ' (import the user first)'
          else 'user ' || ${quoted(sql`s.user_id`)} || ' belongs to account ' || ${quoted(sql`u.account_id`)}
               || ', not ' || ${quoted(sql`s.account_id`)} end as message
        from ${staging} s left join users u on u.id = s.user_id
        where s.user_id is not null and (u.id is null or u.account_id <> s.account_id)
        union all
        select s.line, 'unknown account ' || ${quoted(sql`s.account_id`)} || ' (import the account first)'
        from ${staging} s
        where s.user_id is null and not exists (select 1 from accounts a where a.id = s.account_id)
        ${duplicates}`;
    },
    async merge({ tx, staging, present, touchedLimit, flags }) {
      if (flags.has(FILL_ACCOUNT)) {
        await tx.execute(
          sql`update ${staging} s set account_id = u.account_id
              from users u where s.account_id is null and u.id = s.user_id`,
        );
      }
      const columns = sql`event_id, user_id, account_id, activity, module, occurred_at, count`;
      // The touched ids come from the events themselves: a RETURNING on the
      // rollup upsert would materialize every rollup row just to find them.
      const touchedIn = (events: SQL) => sql`
        (select 'account' as kind, account_id as id, null::int as a, null::int as b
         from (select distinct account_id from ${events}) t limit ${touchedLimit + 1})
        union all
        (select 'user', user_id, null, null
         from (select distinct user_id from ${events} where user_id is not null) t limit ${touchedLimit + 1})`;
      let result: TouchedRow[];
      await lockRollups(tx);
      // No entity has rollups on the file's days: every rollup key is new.
      const fresh = !(await rollupsWithinEvents(tx, staging, timezone));
      if (present.has("event_id")) {
        // Events whose event_id is already stored are not inserted, so they never
        // reach the rollups either: the rollups read the rows actually inserted.
        result = await rows<TouchedRow>(
          tx,
          sql`with ins as (
            insert into activity_events (${columns}) select ${columns} from ${staging}
            on conflict (event_id) where event_id is not null do nothing
            returning user_id, account_id, activity, module, occurred_at, count
          ), ${rollupMerge(sql`ins`, timezone, fresh)}
          select 'count' as kind, null::text as id, (select count(*) from ins)::int as a,
                 (select count(*) from ${staging})::int as b
          union all ${touchedIn(sql`ins`)}`,
        );
      } else {
        // Every staged event is inserted: a plain insert (no speculative
        // insertion), and the rollups read the staged rows.
        await tx.execute(sql`insert into activity_events (${columns}) select ${columns} from ${staging}`);
        await tx.execute(sql`with ${rollupMerge(staging, timezone, fresh)} select 1`);
        result = await rows<TouchedRow>(
          tx,
          sql`select 'count' as kind, null::text as id, count(*)::int as a, count(*)::int as b from ${staging}
          union all ${touchedIn(staging)}`,
        );
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
  return (await importEventsDirect(database, source, spec, opts)) ?? runImport(database, source, spec, opts);
}
