import type { EntityType } from "../facts/catalog.ts";
import { MAX_TAG_NAME_LENGTH } from "../limits.ts";

/** The two entity collections of the API and their entity types. */
export const collections: readonly { path: "accounts" | "users"; type: EntityType }[] = [
  { path: "accounts", type: "account" },
  { path: "users", type: "user" },
];

/**
 * A tag name in a request. The schema allows surrounding blanks (they are
 * trimmed); normalizeTagName then enforces the 200-character limit on the
 * trimmed name and says so.
 */
export const tagName = {
  type: "string",
  minLength: 1,
  maxLength: MAX_TAG_NAME_LENGTH + 100,
  description: `a tag name (trimmed; 1 to ${MAX_TAG_NAME_LENGTH} characters; matched case-insensitively)`,
} as const;

export const entityId = { type: "string", minLength: 1, maxLength: 1000 } as const;

/** Path params of a route on one entity: its id alone. */
export const idParams = {
  type: "object",
  properties: { id: entityId },
  required: ["id"],
  additionalProperties: false,
} as const;

const claimSchema = {
  type: "object",
  properties: {
    source: { type: "string", description: "manual, bulk, file or rule:<rule id>" },
    since: { type: "string", format: "date-time" },
    actor: { type: ["string", "null"] },
  },
} as const;

export const entityTagSchema = {
  type: "object",
  properties: {
    name: { type: "string" },
    claims: { type: "array", items: claimSchema },
  },
} as const;

export const errorResponses = {
  400: { $ref: "error#", description: "a bad body, query or parameter: the message names the field" },
  401: { $ref: "error#", description: "no key, or a bad or revoked key" },
  403: { $ref: "error#", description: "the key's role is too low" },
} as const;

export const cursorQuery = {
  cursor: { type: "string", description: "the nextCursor of the previous page" },
} as const;

export const asOfQuery = {
  type: "string",
  description: "a date (the end of that day in the workspace time zone) or an ISO-8601 instant",
} as const;
