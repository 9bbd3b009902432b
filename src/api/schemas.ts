import type { EntityType } from "../facts/catalog.ts";
import { MAX_TAG_NAME_LENGTH } from "../limits.ts";

/**
 * The two entity collections of the API and their entity types; `title` and
 * `plural` name the collection's operations (getAccount, listTagUsers).
 */
export const collections: readonly {
  path: "accounts" | "users";
  type: EntityType;
  title: "Account" | "User";
  plural: "Accounts" | "Users";
}[] = [
  { path: "accounts", type: "account", title: "Account", plural: "Accounts" },
  { path: "users", type: "user", title: "User", plural: "Users" },
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

/** One documented error answer: the shared error shape, and what it means on this route. */
export function errorResponse(description: string) {
  return { $ref: "error#", description } as const;
}

const badRequest = errorResponse("a bad body, query or parameter: the message names the field");

/** What every route that needs a key can answer besides its own errors. */
export const errorResponses = {
  400: badRequest,
  401: errorResponse("no key, or a bad or revoked key"),
  403: errorResponse("the key's role is too low"),
} as const;

/** What a route without a key (/health) can answer: an unknown query parameter. */
export const publicErrorResponses = { 400: badRequest } as const;

/** What a route with a JSON (or CSV) body can answer besides a bad field. */
export const bodyErrorResponses = {
  413: errorResponse("the body is larger than this route accepts"),
  415: errorResponse("the body's content type is not one this route accepts"),
} as const;

export function notFoundResponse(what: string) {
  return { 404: errorResponse(what) } as const;
}

/**
 * A response object documented by its main fields but open to more: the
 * serializer keeps fields the schema does not list, so a field added to a
 * domain result reaches clients rather than being dropped silently.
 */
export function openObject(description: string, properties: Record<string, unknown> = {}) {
  return { type: "object", description, properties, additionalProperties: true } as const;
}

export const openArray = (description: string) =>
  ({ type: "array", description, items: { type: "object", additionalProperties: true } }) as const;

export const cursorQuery = {
  cursor: { type: "string", description: "the nextCursor of the previous page" },
} as const;

export const asOfQuery = {
  type: "string",
  description: "a date (the end of that day in the workspace time zone) or an ISO-8601 instant",
} as const;
