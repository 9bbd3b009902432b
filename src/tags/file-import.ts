import { ensureTag, findTags, type TagRow } from "../claims/sql/tags.ts";
import { addClaims, removeClaims } from "../claims/write-changes.ts";
import type { DbOrTx } from "../db/client.ts";
import { transactionWithOutcome } from "../db/transaction.ts";
import { InputError } from "../errors/index.ts";
import type { EntityType } from "../facts/catalog.ts";
import { createIdTable, lockEntities, unknownIds } from "../facts/sql/entities.ts";
import { reportChanged, type TagHooks } from "./changes.ts";
import { type Cell, cellPairs, createCellTable } from "./sql/tag-file.ts";
import { type LineProblem, parseTagsFile } from "./tags-file.ts";

/** How many added and removed claims a result lists one by one; the counts are always exact. */
export const FILE_RESULT_DETAIL_LIMIT = 10_000;

export interface TagsFileOptions {
  /** The name to show in messages and history (the file name, or "upload"). */
  source: string;
  actor: string;
  /** Report what would change and write nothing. */
  dryRun?: boolean;
  /** Apply the good rows and report the others, instead of refusing the file. */
  skipInvalid?: boolean;
}

export interface FileChange {
  entityId: string;
  tag: string;
  source: string;
  membershipChanged: boolean;
}

export interface TagsFileResult {
  source: string;
  dryRun: boolean;
  entityType: EntityType;
  tags: string[];
  /** Data rows in the file. */
  rows: number;
  /** Rows applied (or, in a dry run, that would be). */
  appliedRows: number;
  /** Claims with source `file` added (up to FILE_RESULT_DETAIL_LIMIT listed). */
  added: FileChange[];
  addedCount: number;
  /** Claims removed by no/false cells, of any source (up to FILE_RESULT_DETAIL_LIMIT listed). */
  removed: FileChange[];
  removedCount: number;
  /** Entities that gained, and lost, a tag. */
  membershipsAdded: number;
  membershipsRemoved: number;
  truncated: boolean;
  /** Ids in the file naming no entity, with their lines. */
  unknownIds: { id: string; line: number }[];
  /** Rows with bad values, duplicate or empty ids. */
  problems: LineProblem[];
  /**
   * True when the file as a whole would be refused (problems or unknown ids,
   * without skipInvalid): a dry run then reports what the good rows would do.
   */
  refused: boolean;
}

function describeProblems(problems: LineProblem[]): string {
  const shown = problems
    .slice(0, 20)
    .map((p) => `  line ${p.line}${p.column ? `, column ${JSON.stringify(p.column)}` : ""}: ${p.message}`);
  return [...shown, ...(problems.length > 20 ? [`  ... and ${problems.length - 20} more`] : [])].join("\n");
}

/**
 * Imports a tags file (DESIGN section 6). yes/true adds a claim with source
 * `file`; no/false removes the tag by hand (every claim); blank changes
 * nothing. All-or-nothing: a bad row or an unknown id refuses the whole file
 * unless `skipInvalid`. A dry run runs the very same statements in a
 * transaction that is rolled back, so it reports exactly what the upload does.
 * The hooks hear of the entities that gained or lost a tag (never on a dry run).
 */
export async function importTagsFile(
  db: DbOrTx,
  text: string,
  opts: TagsFileOptions,
  hooks: TagHooks,
): Promise<TagsFileResult> {
  const parsed = parseTagsFile(text, opts.source);
  const dryRun = opts.dryRun === true;
  if (!dryRun && !opts.skipInvalid && parsed.problems.length > 0) {
    throw new InputError(
      `${opts.source}: ${parsed.problems.length} problem${parsed.problems.length === 1 ? "" : "s"}; nothing was imported (fix them, or use --skip-invalid / skipInvalid=true to import the good rows):\n${describeProblems(parsed.problems)}`,
      { code: "invalid_file", details: { problems: parsed.problems } },
    );
  }
  const type = parsed.entityType;
  let membershipChanged: string[] = [];
  // A dry run runs every statement and then rolls back: it reports exactly what the upload would do.
  const imported = await transactionWithOutcome(db, async (tx) => {
    await createIdTable(
      tx,
      "file_ids",
      parsed.rows.map((r) => r.id),
    );
    const unknown = new Set(await unknownIds(tx, type, "file_ids"));
    const unknownList = parsed.rows.filter((r) => unknown.has(r.id)).map((r) => ({ id: r.id, line: r.line }));
    if (!dryRun && !opts.skipInvalid && unknownList.length > 0) {
      const shown = unknownList
        .slice(0, 20)
        .map((u) => `  line ${u.line}: ${JSON.stringify(u.id)}`)
        .join("\n");
      throw new InputError(
        `${opts.source}: ${unknownList.length} id${unknownList.length === 1 ? " names" : "s name"} no ${type}; nothing was imported:\n${shown}${unknownList.length > 20 ? `\n  ... and ${unknownList.length - 20} more` : ""}`,
        { code: "unknown_ids", details: { entityType: type, unknownIds: unknownList } },
      );
    }
    const good = parsed.rows.filter((r) => !unknown.has(r.id));
    await lockEntities(tx, type, "file_ids");

    // A tag is created on first use, so only when some cell adds it.
    const tagRows = new Map<number, TagRow>();
    const existing = await findTags(tx, parsed.tags);
    for (const [i, name] of parsed.tags.entries()) {
      const adds = good.some((r) => r.actions[i] === "add");
      const tag = adds ? await ensureTag(tx, name) : existing.get(name);
      if (tag) tagRows.set(i, tag);
    }
    const cells: Cell[] = [];
    for (const r of good) {
      for (const [i, action] of r.actions.entries()) {
        const tag = tagRows.get(i);
        if (action && tag) cells.push({ entity_id: r.id, tag_id: tag.id, action });
      }
    }
    await createCellTable(tx, "file_cells", cells);
    const note = { reason: "tags file", file: opts.source };
    const removed = await removeClaims(tx, {
      type,
      actor: opts.actor,
      note,
      pairs: cellPairs("file_cells", "remove"),
    });
    const added = await addClaims(tx, {
      type,
      source: "file",
      actor: opts.actor,
      note,
      pairs: cellPairs("file_cells", "add"),
    });
    const names = new Map([...tagRows.values()].map((t) => [t.id, t.name]));
    const view = (c: { entity_id: string; tag_id: number; source: string; membership_changed: boolean }) => ({
      entityId: c.entity_id,
      tag: names.get(c.tag_id) ?? String(c.tag_id),
      source: c.source,
      membershipChanged: c.membership_changed,
    });
    const result: TagsFileResult = {
      source: opts.source,
      dryRun,
      entityType: type,
      tags: parsed.tags.map((name, i) => tagRows.get(i)?.name ?? name),
      rows: parsed.rowCount,
      appliedRows: good.length,
      added: added.slice(0, FILE_RESULT_DETAIL_LIMIT).map(view),
      addedCount: added.length,
      removed: removed.slice(0, FILE_RESULT_DETAIL_LIMIT).map(view),
      removedCount: removed.length,
      membershipsAdded: added.filter((c) => c.membership_changed).length,
      membershipsRemoved: removed.filter((c) => c.membership_changed).length,
      truncated: added.length > FILE_RESULT_DETAIL_LIMIT || removed.length > FILE_RESULT_DETAIL_LIMIT,
      unknownIds: unknownList,
      problems: parsed.problems,
      refused: !opts.skipInvalid && (parsed.problems.length > 0 || unknownList.length > 0),
    };
    if (dryRun) return { value: result, commit: false };
    const changed = [...added, ...removed].filter((c) => c.membership_changed).map((c) => c.entity_id);
    membershipChanged = [...new Set(changed)].sort();
    return { value: result, commit: true };
  });
  if (dryRun) return imported;
  await reportChanged(hooks, type, membershipChanged);
  return imported;
}
