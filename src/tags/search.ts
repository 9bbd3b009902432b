import type { DbOrTx } from "../db/client.ts";
import { InputError } from "../errors/index.ts";
import { type SearchHit, searchEntities, tagNamesStarting } from "./sql/search.ts";

export type { SearchHit };

export const SEARCH_LIMIT = 10;
const MAX_QUERY = 200;

function searchText(query: string): string {
  const q = query.trim().normalize("NFC");
  if (q.length > MAX_QUERY) {
    throw new InputError(`query.q is ${q.length} characters long; search takes at most ${MAX_QUERY}`, {
      details: { field: "query.q" },
    });
  }
  return q;
}

/**
 * The console's one search box: accounts and users by id, name or email
 * prefix, exact ids first, then accounts, then by id. An empty query finds
 * nothing rather than a page of everyone.
 */
export async function search(db: DbOrTx, query: string, limit = SEARCH_LIMIT): Promise<SearchHit[]> {
  const q = searchText(query);
  if (q === "") return [];
  const hits = await searchEntities(db, q, limit);
  const score = (h: SearchHit & { rank?: number }) => (h.id === q ? -1 : (h.rank ?? 9));
  return hits
    .sort((a, b) => score(a) - score(b) || a.type.localeCompare(b.type) || a.id.localeCompare(b.id))
    .slice(0, limit)
    .map(({ type, id, name, email, accountId }) => ({ type, id, name, email, accountId }));
}

/** Existing tags whose name starts with `query` (any case): the "Add tag" combobox's suggestions. An empty query lists the first names. */
export async function searchTagNames(db: DbOrTx, query: string, limit = SEARCH_LIMIT): Promise<string[]> {
  return tagNamesStarting(db, searchText(query), limit);
}
