import { type TagCounts, tagsWithCounts } from "../claims/sql/tags.ts";
import type { DbOrTx } from "../db/client.ts";
import { ConflictError } from "../errors/index.ts";

export type { TagCounts };

/** Every tag with how many accounts and users have it. */
export async function listTags(db: DbOrTx): Promise<TagCounts[]> {
  return tagsWithCounts(db);
}

/** Tags are permanent (DESIGN section 1): the refusal for any attempt to rename or delete one. */
export function tagsArePermanent(action: "rename" | "delete", tag: string): ConflictError {
  return new ConflictError(
    `tags are permanent: ${JSON.stringify(tag)} cannot be ${action === "rename" ? "renamed" : "deleted"}. Only assignments come and go: remove the tag from entities instead (by hand, in bulk or by file).`,
    { code: "tags_are_permanent", details: { tag } },
  );
}
