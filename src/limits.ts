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
 * Time one segment request may spend evaluating conditions entity by entity
 * (json-rules-engine), summed over its batches. Enforced by segments/query.ts.
 */
export const SEGMENT_EVALUATION_BUDGET_MS = 10_000;

/** Entities evaluated between two turns of the event loop, so other requests are answered meanwhile. */
export const SEGMENT_EVALUATION_SLICE = 100;

/** Postgres statement_timeout on the API server's connections (`signaltag serve`). Set by db/client.ts. */
export const API_STATEMENT_TIMEOUT_MS = 30_000;

/** Bytes of one tracking-API message, as Segment's limit (32 KB). Enforced by ingest/mapping.ts and the single-message routes. */
export const MAX_INGEST_MESSAGE_BYTES = 32 * 1024;

/** Bytes of one tracking-API request, as Segment's limit (500 KB). Enforced by api/routes/ingest.ts. */
export const MAX_INGEST_REQUEST_BYTES = 500 * 1024;
