import { findTag } from "../claims/sql/tags.ts";
import { normalizeTagName } from "../claims/tag-name.ts";
import type { DbOrTx } from "../db/client.ts";
import { NotFoundError } from "../errors/index.ts";
import type { EntityType } from "../facts/catalog.ts";
import { entityExists } from "../facts/sql/entities.ts";
import { describeConditions, type ExplainedCondition } from "../runs/evaluate.ts";
import type { Explanation } from "../runs/explanation.ts";
import { explanationSentences, explanationWithWords } from "../runs/explanation-words.ts";
import { decodeCursor, encodeCursor, isString } from "./cursor.ts";
import { entityNotFound } from "./manual.ts";
import {
  currentMembers,
  entityHistory,
  type HistoryCursor,
  type HistoryRow,
  membersAsOf,
  ruleVersionKey,
  ruleVersionNames,
} from "./sql/history.ts";

export interface HistoryEntry {
  kind: "tag" | "suppression";
  at: string;
  tag: string;
  action: string;
  source: string | null;
  actor: string | null;
  /** Whether the entity gained or lost the tag itself (claim events only). */
  membershipChanged?: boolean;
  rule?: { id: string; name?: string; version: string | null; runId: number | null; asOf: string | null };
  suppression?: { id: number; until: string | null; reason: string | null };
  /** One sentence saying what happened and why. */
  summary: string;
  /** For rule events: each condition with the fact value it saw, as the rule run stored it (and its words). */
  explanation?: Record<string, unknown>;
  /** For rule events: why, in words, one sentence per deciding condition ("health is poor: yes, health is poor"). */
  because?: string[];
}

export interface HistoryPage {
  entries: HistoryEntry[];
  nextCursor: string | null;
}

const isHistoryCursor = (v: unknown): v is HistoryCursor =>
  typeof v === "object" &&
  v !== null &&
  typeof (v as HistoryCursor).at === "string" &&
  Number.isInteger((v as HistoryCursor).seq) &&
  Number.isInteger((v as HistoryCursor).id);

function leaves(node: ExplainedCondition | undefined, matched: boolean): string {
  if (!node) return "";
  const lines = describeConditions(node)
    .map((l) => l.trim())
    .filter((l) => l.startsWith(matched ? "✓" : "✗"));
  return lines.map((l) => l.slice(2)).join("; ");
}

function byWhom(actor: string | null): string {
  return actor ? ` by ${actor}` : "";
}

function summarize(r: HistoryRow): string {
  const note = (r.explanation ?? {}) as Record<string, unknown>;
  if (r.kind === "suppression") {
    const held = r.rule_id ? `rule ${r.rule_id} may not claim the tag` : "no rule may claim the tag";
    const freed = r.rule_id ? `rule ${r.rule_id} may claim the tag again` : "rules may claim the tag again";
    if (r.action === "suppressed") {
      return `suppressed: ${held}${r.until ? ` until ${r.until}` : ""}${byWhom(r.actor)}${r.reason ? ` (${r.reason})` : ""}`;
    }
    if (r.action === "lifted") return `suppression lifted${byWhom(r.actor)}: ${freed}`;
    return `suppression ended: ${freed}`;
  }
  const gained = r.membership_changed ? (r.action === "added" ? "gained the tag" : "lost the tag") : null;
  const claim = `${r.action === "added" ? "claim added" : "claim removed"} (${r.source})`;
  const head = gained ?? claim;
  if (r.rule_id && typeof note.reason !== "string") {
    const version = r.rule_version ? ` version ${r.rule_version.slice(0, 8)}` : "";
    const exit = note.exitMatched === true && r.action === "removed";
    const why =
      r.action === "added"
        ? leaves(note.conditions as ExplainedCondition | undefined, true)
        : exit
          ? leaves(note.exitConditions as ExplainedCondition | undefined, true)
          : leaves(note.conditions as ExplainedCondition | undefined, false);
    const verb =
      r.action === "added"
        ? "conditions matched"
        : exit
          ? "exit conditions matched"
          : "conditions no longer matched";
    return `${head}: rule ${r.rule_id}${version} as of ${r.as_of}, ${verb}${why ? `: ${why}` : ""}`;
  }
  if (r.rule_id) return `${head}: rule ${r.rule_id}, ${String(note.reason)}`;
  const reason = typeof note.reason === "string" ? note.reason : r.action;
  const file = typeof note.file === "string" ? ` ${JSON.stringify(note.file)}` : "";
  const also = gained && r.source !== "manual" && r.action === "removed" ? ` (the ${r.source} claim)` : "";
  return `${head}: ${reason}${file}${byWhom(r.actor)}${also}`;
}

function toEntry(r: HistoryRow, names: Map<string, string>): HistoryEntry {
  const entry: HistoryEntry = {
    kind: r.kind,
    at: r.at,
    tag: r.tag,
    action: r.action,
    source: r.source,
    actor: r.actor,
    summary: summarize(r),
  };
  if (r.kind === "tag") entry.membershipChanged = r.membership_changed === true;
  const name = names.get(ruleVersionKey(r));
  if (r.rule_id) {
    entry.rule = {
      id: r.rule_id,
      ...(name === undefined ? {} : { name }),
      version: r.rule_version,
      runId: r.run_id,
      asOf: r.as_of,
    };
  }
  if (r.kind === "suppression") entry.suppression = { id: r.id, until: r.until, reason: r.reason };
  if (r.explanation) entry.explanation = r.explanation;
  if (r.kind === "tag" && r.rule_id && r.explanation) {
    const e = explanationWithWords(r.explanation as unknown as Explanation, name);
    entry.explanation = e as unknown as Record<string, unknown>;
    entry.because = explanationSentences(e, r.action === "added" ? "add" : "remove");
  }
  return entry;
}

/** An entity's tag history, newest first, with a sentence explaining each entry. */
export async function historyOf(
  db: DbOrTx,
  p: { type: EntityType; id: string; tag?: string; cursor?: string; limit?: number; now?: Date },
): Promise<HistoryPage> {
  const limit = p.limit ?? 100;
  if (!(await entityExists(db, p.type, p.id))) throw entityNotFound(p.type, p.id);
  let tagId: number | undefined;
  if (p.tag !== undefined) {
    const tag = await findTag(db, normalizeTagName(p.tag));
    if (!tag) return { entries: [], nextCursor: null };
    tagId = tag.id;
  }
  const before = p.cursor === undefined ? undefined : decodeCursor(p.cursor, isHistoryCursor);
  const found = await entityHistory(db, {
    type: p.type,
    id: p.id,
    tagId,
    before,
    limit: limit + 1,
    now: p.now ?? new Date(),
  });
  const page = found.slice(0, limit);
  const last = page[page.length - 1];
  const names = await ruleVersionNames(db, page);
  return {
    entries: page.map((r) => toEntry(r, names)),
    nextCursor:
      found.length > limit && last ? encodeCursor({ at: last.cursor_at, seq: last.seq, id: last.id }) : null,
  };
}

export interface MembersPage {
  tag: string;
  entityType: EntityType;
  /** The instant membership was replayed at; null for current members. */
  asOf: string | null;
  ids: string[];
  nextCursor: string | null;
}

/**
 * Who had a tag at an instant, replayed from history (or who has it now,
 * from the claims). A tag nobody ever had is a 404: it does not exist.
 */
export async function membersOf(
  db: DbOrTx,
  p: { tag: string; type: EntityType; asOf?: Date; cursor?: string; limit?: number },
): Promise<MembersPage> {
  const limit = p.limit ?? 1000;
  const name = normalizeTagName(p.tag);
  const tag = await findTag(db, name);
  if (!tag) {
    throw new NotFoundError(`no tag named ${JSON.stringify(name)}`, { details: { tag: name } });
  }
  const after = p.cursor === undefined ? undefined : decodeCursor(p.cursor, isString);
  const ids = p.asOf
    ? await membersAsOf(db, { tagId: tag.id, type: p.type, at: p.asOf, after, limit: limit + 1 })
    : await currentMembers(db, { tagId: tag.id, type: p.type, after, limit: limit + 1 });
  const page = ids.slice(0, limit);
  return {
    tag: tag.name,
    entityType: p.type,
    asOf: p.asOf ? p.asOf.toISOString() : null,
    ids: page,
    nextCursor: ids.length > limit ? encodeCursor(page[page.length - 1]) : null,
  };
}
