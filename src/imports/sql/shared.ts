import { type SQL, sql } from "drizzle-orm";

/*
 * SQL fragments the imports share. Staging tables and column names are built
 * by the import itself (never from file content); every value from a file is
 * a bound parameter or comes from the staging table.
 */

/** `"c" = excluded."c", ` for each column: the columns an upsert overwrites. */
export function updateList(columns: readonly string[]): SQL {
  return sql.raw(columns.map((c) => `"${c}" = excluded."${c}", `).join(""));
}

/**
 * The file's extra columns replace those attributes (a blank value removes
 * one); attributes the file does not mention are kept.
 */
export function attributeUpdate(names: readonly string[]): SQL {
  if (names.length === 0) return sql``;
  return sql`attributes = (t.attributes - (select array_agg(value) from jsonb_array_elements_text(${JSON.stringify(names)}::jsonb)))
    || excluded.attributes, `;
}

/** (line, message) for every row whose `column` repeats an earlier row's. */
export function duplicateIds(staging: SQL, column: "id" | "event_id"): SQL {
  const col = sql.raw(`"${column}"`);
  return sql`select line, ${sql.raw(`'duplicate ${column} '`)} || to_json(${col})::text
      || ' (first on line ' || first_line || ')' as message
    from (select line, ${col}, min(line) over (partition by ${col}) as first_line
          from ${staging} where ${col} is not null) d
    where line > first_line`;
}

/** JSON-quoted text of a SQL expression, for messages: "a-1". */
export function quoted(expr: SQL): SQL {
  return sql`to_json(${expr})::text`;
}

/** Rows of the touched-ids query: kind is 'count' (with a and b) or 'account' / 'user' (with id). */
export interface TouchedRow {
  kind: string;
  id: string | null;
  a: number | null;
  b: number | null;
}

export function collectTouched(
  result: TouchedRow[],
  limit: number,
): { counts: TouchedRow | undefined; touched: { accounts: string[]; users: string[]; complete: boolean } } {
  const accounts: string[] = [];
  const users: string[] = [];
  let counts: TouchedRow | undefined;
  for (const r of result) {
    if (r.kind === "count") counts = r;
    else if (r.kind === "account" && r.id !== null) accounts.push(r.id);
    else if (r.kind === "user" && r.id !== null) users.push(r.id);
  }
  const complete = accounts.length <= limit && users.length <= limit;
  return {
    counts,
    touched: { accounts: accounts.slice(0, limit), users: users.slice(0, limit), complete },
  };
}
