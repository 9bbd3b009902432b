import { sql } from "drizzle-orm";
import { type Database, rows } from "../db/client.ts";
import { contractStatuses, healthLabels } from "../db/schema/accounts.ts";
import { runImport } from "./run.ts";
import type { ImportSource } from "./source.ts";
import { attributeUpdate, collectTouched, duplicateIds, type TouchedRow, updateList } from "./sql/shared.ts";
import type { ImportOptions, ImportResult, ImportSpec } from "./types.ts";
import { attributesJson, date, numberBetween, oneOf, optional, required, text, timestamp } from "./values.ts";

export type Health = (typeof healthLabels)[number];

/** The label a score implies: poor < 40 <= average < 70 <= good. */
export function healthFromScore(score: number): Health {
  return score < 40 ? "poor" : score < 70 ? "average" : "good";
}

const updatable = ["name", "provisioned_at", "contract_status", "renewal_date", "health_score", "health"];

export const accountsSpec: ImportSpec = {
  entity: "accounts",
  staging: [
    { name: "id", type: "text not null" },
    { name: "name", type: "text" },
    { name: "provisioned_at", type: "timestamptz not null" },
    { name: "contract_status", type: "text" },
    { name: "renewal_date", type: "date" },
    { name: "health_score", type: "double precision" },
    { name: "health", type: "text" },
    { name: "attributes", type: "jsonb" },
  ],
  known: ["id", ...updatable],
  attributes: true,
  missingColumns(present) {
    const missing = ["id", "provisioned_at"].filter((c) => !present.has(c));
    return missing.length
      ? `missing required column${missing.length > 1 ? "s" : ""} ${missing.join(", ")}; an accounts file needs id and provisioned_at.`
      : undefined;
  },
  convert({ known, attributes }) {
    const score = optional(known, "health_score", (raw) => numberBetween(raw, 0, 100));
    const health =
      optional(known, "health", (raw) => oneOf(raw, healthLabels)) ??
      (score === null ? null : healthFromScore(score));
    return [
      required(known, "id", text),
      optional(known, "name", text),
      required(known, "provisioned_at", timestamp),
      optional(known, "contract_status", (raw) => oneOf(raw, contractStatuses)),
      optional(known, "renewal_date", date),
      score === null ? null : String(score),
      health,
      attributesJson(attributes),
    ];
  },
  badRows(staging) {
    return duplicateIds(staging, "id");
  },
  async merge({ tx, staging, present, attributeNames, touchedLimit }) {
    // A column the file does not have keeps its stored value; the label follows a new score.
    const columns = updatable.filter(
      (c) => present.has(c) || (c === "health" && present.has("health_score")),
    );
    const result = await rows<TouchedRow>(
      tx,
      sql`with up as (
        insert into accounts as t (id, name, provisioned_at, contract_status, renewal_date,
                                   health_score, health, attributes, updated_at)
        select id, name, provisioned_at, contract_status, renewal_date, health_score, health,
               coalesce(attributes, '{}'::jsonb), now()
        from ${staging}
        order by id -- key order: the upsert visits neighbouring index pages together
        on conflict (id) do update set ${updateList(columns)}${attributeUpdate(attributeNames)} updated_at = now()
        returning t.id, (t.xmax = 0) as inserted
      )
      select 'count' as kind, null::text as id, (count(*) filter (where inserted))::int as a, count(*)::int as b from up
      union all
      (select 'account', id, null, null from up limit ${touchedLimit + 1})`,
    );
    const { counts, touched } = collectTouched(result, touchedLimit);
    const inserted = Number(counts?.a ?? 0);
    return { inserted, updated: Number(counts?.b ?? 0) - inserted, duplicates: 0, touched };
  },
};

/**
 * Imports accounts from a .csv or .ndjson file (or a stream): columns id, name,
 * provisioned_at, contract_status, renewal_date, health_score, health; other
 * columns become attributes. Existing accounts are updated (only the columns
 * the file has). A file with an invalid row is refused whole with an
 * InputError, unless opts.skipInvalid.
 */
export function importAccounts(
  database: Database,
  source: ImportSource,
  opts: ImportOptions = {},
): Promise<ImportResult> {
  return runImport(database, source, accountsSpec, opts);
}
