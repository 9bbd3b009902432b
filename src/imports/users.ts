import { sql } from "drizzle-orm";
import { type Database, rows } from "../db/client.ts";
import { runImport } from "./run.ts";
import type { ImportSource } from "./source.ts";
import {
  attributeUpdate,
  collectTouched,
  duplicateIds,
  quoted,
  type TouchedRow,
  updateList,
} from "./sql/shared.ts";
import type { ImportOptions, ImportResult, ImportSpec } from "./types.ts";
import { attributesJson, optional, required, text, timestamp } from "./values.ts";

const updatable = ["account_id", "email", "name", "created_at"];

export const usersSpec: ImportSpec = {
  entity: "users",
  staging: [
    { name: "id", type: "text not null" },
    { name: "account_id", type: "text not null" },
    { name: "email", type: "text" },
    { name: "name", type: "text" },
    { name: "created_at", type: "timestamptz not null" },
    { name: "attributes", type: "jsonb" },
  ],
  known: ["id", ...updatable],
  attributes: true,
  missingColumns(present) {
    const missing = ["id", "account_id", "created_at"].filter((c) => !present.has(c));
    return missing.length
      ? `missing required column${missing.length > 1 ? "s" : ""} ${missing.join(", ")}; a users file needs id, account_id and created_at.`
      : undefined;
  },
  convert({ known, attributes }) {
    return [
      required(known, "id", text),
      required(known, "account_id", text),
      optional(known, "email", text),
      optional(known, "name", text),
      required(known, "created_at", timestamp),
      attributesJson(attributes),
    ];
  },
  badRows(staging) {
    return sql`${duplicateIds(staging, "id")}
      union all
      select s.line, 'unknown account ' || ${quoted(sql`s.account_id`)} || ' (import the account first)'
      from ${staging} s
      where not exists (select 1 from accounts a where a.id = s.account_id)`;
  },
  async merge({ tx, staging, present, attributeNames, touchedLimit }) {
    const columns = updatable.filter((c) => present.has(c));
    // A user who moves changes two accounts' user lists: both are touched.
    const result = await rows<TouchedRow>(
      tx,
      sql`with moved as (
        select u.account_id as previous from ${staging} s join users u on u.id = s.id
        where u.account_id <> s.account_id
      ), up as (
        insert into users as t (id, account_id, email, name, created_at, attributes, updated_at)
        select id, account_id, email, name, created_at, coalesce(attributes, '{}'::jsonb), now()
        from ${staging}
        order by id -- key order: the upsert visits neighbouring index pages together
        on conflict (id) do update set ${updateList(columns)}${attributeUpdate(attributeNames)} updated_at = now()
        returning t.id, t.account_id, (t.xmax = 0) as inserted
      )
      select 'count' as kind, null::text as id, (count(*) filter (where inserted))::int as a, count(*)::int as b from up
      union all
      (select 'user', id, null, null from up limit ${touchedLimit + 1})
      union all
      (select 'account', account_id, null, null
       from (select account_id from up union select previous from moved) a limit ${touchedLimit + 1})`,
    );
    const { counts, touched } = collectTouched(result, touchedLimit);
    const inserted = Number(counts?.a ?? 0);
    return { inserted, updated: Number(counts?.b ?? 0) - inserted, duplicates: 0, touched };
  },
};

/**
 * Imports users from a .csv or .ndjson file (or a stream): columns id,
 * account_id, email, name, created_at; other columns become attributes. Each
 * user's account must already exist. Existing users are updated (only the
 * columns the file has). A file with an invalid row is refused whole with an
 * InputError, unless opts.skipInvalid.
 */
export function importUsers(
  database: Database,
  source: ImportSource,
  opts: ImportOptions = {},
): Promise<ImportResult> {
  return runImport(database, source, usersSpec, opts);
}
