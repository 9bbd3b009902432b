/**
 * The limits that keep one request or one file from taking a whole process
 * down. Each is enforced in one place (named beside it) and listed in
 * docs/limits.md; change both together.
 */

/** Condition nodes (all, any, not, tests, references) in one condition tree. Enforced by rules/validate-conditions.ts. */
export const MAX_CONDITIONS = 200;

/** How deep all/any/not may nest in one condition tree (the top group is depth 1). Enforced by rules/validate-conditions.ts. */
export const MAX_CONDITION_DEPTH = 16;

/** How deep objects and arrays may nest in a rule file. Enforced by rules/json-source.ts while parsing. */
export const MAX_JSON_DEPTH = 64;

/** Characters (as people count them) in a tag name. Enforced by claims/tag-name.ts. */
export const MAX_TAG_NAME_LENGTH = 200;

/**
 * Time one segment request may spend evaluating conditions, summed over its
 * batches (SQL statements of the runs' compiled form, or entity by entity with
 * json-rules-engine for conditions without one). Enforced by segments/query.ts.
 */
export const SEGMENT_EVALUATION_BUDGET_MS = 10_000;

/** Entities evaluated by json-rules-engine between two turns of the event loop, so other requests are answered meanwhile. */
export const SEGMENT_EVALUATION_SLICE = 100;

/** Characters in one segment of a request's path (an id in /v1/users/:id). Set in api/server.ts; 414 beyond. */
export const MAX_PATH_SEGMENT_LENGTH = 2048;

/** Postgres statement_timeout on the API server's connections (`signaltag serve`). Set by db/client.ts. */
export const API_STATEMENT_TIMEOUT_MS = 30_000;

/*
 * Sizes of the values an import (accounts, users, events; CSV or NDJSON)
 * stores. Ids and activity names are index keys: Postgres refuses an index row
 * past about 8 KB only after the whole file was staged, with SQL and no line
 * number, so they are checked per row before anything is written. Names,
 * emails and attributes are served back by the API and the CLI: unbounded,
 * one row could hold 50 MB. Enforced by fieldSizeProblem() and
 * attributesProblem() below, called by imports/values.ts (and the events
 * direct path, which leaves for the exact path on any field past its limit).
 */

/** Bytes (UTF-8) of an account, user or event id, and of a user's account_id. */
export const MAX_ID_BYTES = 512;

/** Bytes of an activity or module name. */
export const MAX_ACTIVITY_BYTES = 256;

/** Bytes of an account's or user's name. */
export const MAX_NAME_BYTES = 1_024;

/** Bytes of an email address (RFC 5321 allows 254 in a path; some systems store 320). */
export const MAX_EMAIL_BYTES = 320;

/** Bytes of one attribute's name (an extra column or NDJSON key). */
export const MAX_ATTRIBUTE_NAME_BYTES = 256;

/** Bytes of one entity's attributes, as the JSON stored. */
export const MAX_ATTRIBUTES_BYTES = 64 * 1024;

/** How deep objects and arrays may nest inside an attribute value (a plain value is depth 0). */
export const MAX_ATTRIBUTE_DEPTH = 8;

/** The size limit of each imported text field, by column. */
export const FIELD_BYTE_LIMITS: Readonly<Record<string, number>> = {
  id: MAX_ID_BYTES,
  account_id: MAX_ID_BYTES,
  user_id: MAX_ID_BYTES,
  event_id: MAX_ID_BYTES,
  activity: MAX_ACTIVITY_BYTES,
  module: MAX_ACTIVITY_BYTES,
  name: MAX_NAME_BYTES,
  email: MAX_EMAIL_BYTES,
};

/** UTF-8 bytes of `text`, counted only when its length does not settle the answer. */
function exceedsBytes(text: string, max: number): number | undefined {
  // A UTF-16 unit is 1 to 3 UTF-8 bytes: short strings need no counting.
  if (text.length * 3 <= max) return undefined;
  const bytes = Buffer.byteLength(text, "utf8");
  return bytes > max ? bytes : undefined;
}

/**
 * Why a field's value is too large ("is 5000000 bytes; ..."), completing
 * "column X ...", or undefined when it fits (or the column has no limit).
 */
export function fieldSizeProblem(column: string, value: string): string | undefined {
  const max = FIELD_BYTE_LIMITS[column];
  if (max === undefined) return undefined;
  const bytes = exceedsBytes(value, max);
  return bytes === undefined ? undefined : `is ${bytes} bytes long; at most ${max} bytes are allowed`;
}

/**
 * Why an entity's attributes are refused (a name too long, a value nested too
 * deep), or undefined. Walked with an explicit stack, so a value nested 10,000
 * deep is a problem to report, not a stack overflow; the total size is checked
 * on the JSON text by the caller, once nesting is known to be shallow.
 */
export function attributesProblem(attributes: Record<string, unknown>): string | undefined {
  for (const name in attributes) {
    const bytes = exceedsBytes(name, MAX_ATTRIBUTE_NAME_BYTES);
    if (bytes !== undefined) {
      return `attribute name ${JSON.stringify(`${name.slice(0, 40)}...`)} is ${bytes} bytes long; at most ${MAX_ATTRIBUTE_NAME_BYTES} bytes are allowed`;
    }
    const stack: [unknown, number][] = [[attributes[name], 0]];
    while (stack.length > 0) {
      const [value, depth] = stack.pop()!;
      if (value === null || typeof value !== "object") continue;
      if (depth + 1 > MAX_ATTRIBUTE_DEPTH) {
        return `attribute ${JSON.stringify(name)} nests objects or arrays more than ${MAX_ATTRIBUTE_DEPTH} deep; flatten it`;
      }
      for (const child of Object.values(value)) stack.push([child, depth + 1]);
    }
  }
  return undefined;
}

/** Why an entity's attributes, as the JSON text to be stored, are too large, or undefined. */
export function attributesSizeProblem(json: string): string | undefined {
  const bytes = exceedsBytes(json, MAX_ATTRIBUTES_BYTES);
  return bytes === undefined
    ? undefined
    : `the attributes are ${bytes} bytes as JSON; at most ${MAX_ATTRIBUTES_BYTES} bytes are allowed per entity`;
}

/**
 * Characters a tag name may not hold, each with the words a message names it
 * by: control characters (a CR/LF would fake lines in `profile`), bidi
 * overrides and isolates (they reorder what is shown) and zero-width
 * characters (`new\u200buser` would look like `newuser` yet be another tag).
 */
const forbiddenInTagNames: readonly { pattern: RegExp; what: string }[] = [
  { pattern: /\p{Cc}/u, what: "a control character (line break, tab, NUL...)" },
  { pattern: /[\u202a-\u202e\u2066-\u2069]/u, what: "a bidirectional override or isolate" },
  {
    // A zero-width joiner between two emoji is part of one emoji (👩‍🚀), so it stays; anywhere else it hides.
    pattern:
      /[\u200b\u200c\u2060\ufeff]|(?<!\p{Extended_Pictographic}[\u{1f3fb}-\u{1f3ff}\ufe0f]?)\u200d|\u200d(?!\p{Extended_Pictographic})/u,
    what: "a zero-width character",
  },
];

/**
 * Why a tag name (trimmed and NFC-normalised) is refused, completing
 * "<field> ...", or undefined. One check for every tag name, wherever it comes
 * from: claims/tag-name.ts for requests, files and the CLI, rules/validate.ts
 * for a rule file's own "tag".
 */
export function tagNameProblem(name: string): string | undefined {
  // Length in characters as people count them (an emoji is one), not UTF-16 units.
  const length = [...name].length;
  if (length > MAX_TAG_NAME_LENGTH) {
    return `is ${length} characters long; tag names have at most ${MAX_TAG_NAME_LENGTH}`;
  }
  for (const { pattern, what } of forbiddenInTagNames) {
    const found = pattern.exec(name);
    if (found) {
      const at = [...name.slice(0, found.index)].length + 1;
      const code = `U+${found[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
      return `contains ${what} (${code}) at character ${at}; tag names may not: remove it`;
    }
  }
  return undefined;
}

/** Bytes of one tracking-API message, as Segment's limit (32 KB). Enforced by ingest/mapping.ts and the single-message routes. */
export const MAX_INGEST_MESSAGE_BYTES = 32 * 1024;

/** Bytes of one tracking-API request, as Segment's limit (500 KB). Enforced by api/routes/ingest.ts. */
export const MAX_INGEST_REQUEST_BYTES = 500 * 1024;
