import { sql } from "drizzle-orm";
import { type DbOrTx, rows } from "../../db/client.ts";

/** An entity's tag and the sources that claim it, sorted bytewise. */
export interface Assignment {
  entity_type: string;
  entity_id: string;
  tag: string;
  sources: string[];
}

/**
 * Every tag assignment, a page at a time, by entity type, entity id and tag
 * name case-insensitively. Keyset pages keep memory flat however many
 * assignments there are.
 */
export async function* assignmentPages(db: DbOrTx, pageSize: number): AsyncGenerator<Assignment[]> {
  let after: Assignment | undefined;
  for (;;) {
    const cursor = after
      ? sql`where (c.entity_type, c.entity_id, lower(t.name)) > (${after.entity_type}, ${after.entity_id}, lower(${after.tag}))`
      : sql``;
    const page = await rows<Assignment>(
      db,
      sql`select c.entity_type, c.entity_id, t.name as tag, array_agg(c.source order by c.source collate "C") as sources
          from claims c join tags t on t.id = c.tag_id
          ${cursor}
          group by c.entity_type, c.entity_id, t.name
          order by c.entity_type, c.entity_id, lower(t.name)
          limit ${pageSize}`,
    );
    yield page;
    if (page.length < pageSize) return;
    after = page[page.length - 1];
  }
}
