import { sql } from "drizzle-orm";
import type { Pairs } from "../../claims/write-changes.ts";
import type { DbOrTx } from "../../db/client.ts";

export interface Cell {
  entity_id: string;
  tag_id: number;
  action: "add" | "remove";
}

/** A temporary table of a tags file's non-blank cells for this transaction, filled in one statement. */
export async function createCellTable(tx: DbOrTx, name: string, cells: readonly Cell[]): Promise<void> {
  const table = sql.identifier(name);
  await tx.execute(
    sql`create temp table ${table} (entity_id text not null, tag_id int not null, action text not null,
                                    primary key (entity_id, tag_id)) on commit drop`,
  );
  await tx.execute(
    sql`insert into ${table} (entity_id, tag_id, action)
        select entity_id, tag_id, action
        from json_to_recordset(${JSON.stringify(cells)}::json) as c(entity_id text, tag_id int, action text)`,
  );
  await tx.execute(sql`analyze ${table}`);
}

/** The (entity, tag) pairs of a cell table whose cells ask for one action. */
export function cellPairs(table: string, action: Cell["action"]): Pairs {
  return sql`select entity_id, tag_id from ${sql.identifier(table)} where action = ${action}`;
}
