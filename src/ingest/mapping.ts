import { healthFromScore } from "../imports/index.ts";
import {
  attributesProblem,
  attributesSizeProblem,
  fieldSizeProblem,
  MAX_INGEST_MESSAGE_BYTES,
} from "../limits.ts";
import { unstorableField, unstorableText } from "../storable-text.ts";
import { correctedTime, parseInstant } from "./timestamps.ts";
import { accountFields, inStoredRange, instantTrait, otherTraits, TraitError, textTrait } from "./traits.ts";
import type { Mapped, MessageProblem } from "./types.ts";

/*
 * Segment's tracking spec mapped onto signaltag's tables (the table in
 * docs/ingest.md). Pure: no I/O, so each rule of the mapping is a unit test.
 */

/** Every message type of Segment's tracking spec. */
export const MESSAGE_TYPES = ["track", "identify", "group", "page", "screen", "alias"] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];
/** The types accepted and never stored: signaltag tags from identify, group and track. */
const IGNORED = ["page", "screen", "alias"] as const satisfies readonly MessageType[];
export const IGNORED_TYPES: ReadonlySet<MessageType> = new Set(IGNORED);
const isIgnored = (type: string): type is (typeof IGNORED)[number] => IGNORED_TYPES.has(type as MessageType);
const messageTypes: readonly string[] = MESSAGE_TYPES;

/** What a request carries besides its messages. */
export interface RequestContext {
  /** When the server received the request (epoch ms). */
  receivedAt: number;
  /** The batch's own sentAt, which Segment's libraries set once per request. */
  sentAt?: unknown;
  /** The type a single-message route implies (/v1/track) when the message names none. */
  impliedType?: MessageType;
}

export type MapOutcome = { ok: true; mapped: Mapped } | { ok: false; problem: MessageProblem };

class MessageError extends Error {}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Refuses a value past its column's size limit (src/limits.ts, the same
 * limits as file imports), or holding what Postgres cannot store (a NUL, a
 * lone surrogate): every text field of a message reaches the database
 * through here or checkedAttributes().
 */
function sized<T extends string | null | undefined>(column: string, field: string, value: T): T {
  if (typeof value !== "string") return value;
  const problem = fieldSizeProblem(column, value) ?? unstorableText(value)?.problem;
  if (problem !== undefined) throw new MessageError(`${field} ${problem}`);
  return value;
}

/** Refuses attributes nested too deep, too large, or holding text Postgres cannot store, as file imports do. */
function checkedAttributes(field: string, attributes: Record<string, unknown>): Record<string, unknown> {
  const problem = attributesProblem(attributes) ?? attributesSizeProblem(JSON.stringify(attributes));
  if (problem !== undefined) throw new MessageError(`${field}: ${problem}`);
  const unstorable = unstorableField(attributes, field);
  if (unstorable !== undefined) throw new MessageError(`${unstorable.field} ${unstorable.problem}`);
  return attributes;
}

/** An id as sources send it: text, or a number written as text; empty means absent. */
function idOf(msg: Json, field: string, column = "id", label = field): string | null {
  const v = msg[field];
  if (v === undefined || v === null || v === "") return null;
  if (typeof v === "string") return sized(column, label, v);
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  throw new MessageError(`${label} must be text, not ${JSON.stringify(v)}`);
}

function objectField(msg: Json, field: string): Json {
  const v = msg[field];
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw new MessageError(`${field} must be an object`);
  return v;
}

function count(properties: Json): number {
  const v = properties.count;
  if (v === undefined || v === null) return 1;
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 2_147_483_647) {
    throw new MessageError(`properties.count must be a whole number from 1 up, not ${JSON.stringify(v)}`);
  }
  return n;
}

/** Maps message `index` of a request; a message that can never be stored becomes a problem naming why. */
export function mapMessage(raw: unknown, index: number, ctx: RequestContext): MapOutcome {
  try {
    return { ok: true, mapped: mapOne(raw, ctx) };
  } catch (err) {
    if (err instanceof MessageError || err instanceof TraitError) {
      return { ok: false, problem: { index, message: err.message } };
    }
    // JSON.stringify recurses: a message nested deeper than the stack allows is refused, not a 500.
    if (err instanceof RangeError) {
      return { ok: false, problem: { index, message: "the message nests objects or arrays too deep" } };
    }
    throw err;
  }
}

function mapOne(raw: unknown, ctx: RequestContext): Mapped {
  if (!isObject(raw)) throw new MessageError("a message must be a JSON object");
  const bytes = Buffer.byteLength(JSON.stringify(raw), "utf8");
  if (bytes > MAX_INGEST_MESSAGE_BYTES) {
    throw new MessageError(
      `the message is ${bytes} bytes; the limit is 32 KB (${MAX_INGEST_MESSAGE_BYTES} bytes) per message`,
    );
  }
  const type = raw.type ?? ctx.impliedType;
  if (typeof type !== "string" || !messageTypes.includes(type)) {
    throw new MessageError(
      `type must be one of ${messageTypes.join(", ")}${type === undefined ? "" : `, not ${JSON.stringify(type)}`}`,
    );
  }
  if (ctx.impliedType !== undefined && type !== ctx.impliedType) {
    throw new MessageError(
      `this route takes ${ctx.impliedType} messages, not ${type}; send others to /v1/batch`,
    );
  }
  if (isIgnored(type)) return { type: "ignored", kind: type };
  const time = correctedTime(raw, ctx.sentAt, ctx.receivedAt);
  if (!time.ok) throw new MessageError(`${time.field} must be an ISO-8601 date-time`);
  if (!inStoredRange(time.at))
    throw new MessageError("the corrected timestamp falls outside years 1 to 9999");
  const at = new Date(time.at).toISOString();
  const userId = idOf(raw, "userId");
  const context = objectField(raw, "context");
  const contextGroup = idOf(context, "groupId", "id", "context.groupId");

  if (type === "group") {
    const accountId = idOf(raw, "groupId");
    if (accountId === null) throw new MessageError("a group message needs a groupId");
    const traits = objectField(raw, "traits");
    const { fields, used } = accountFields(traits, parseInstant);
    if (fields.healthScore !== undefined && fields.health === undefined) {
      fields.health = healthFromScore(fields.healthScore);
    }
    return {
      type: "group",
      account: {
        ...fields,
        ...(fields.name !== undefined ? { name: sized("name", "traits.name", fields.name) } : {}),
        accountId,
        userId,
        attributes: checkedAttributes("traits", otherTraits(traits, used)),
        seenAt: at,
      },
    };
  }
  if (userId === null && (type === "identify" || contextGroup === null)) {
    // Never stored: any anonymousId makes the message one to accept and ignore.
    const anonymous = raw.anonymousId;
    if (anonymous !== undefined && anonymous !== null && anonymous !== "") {
      return { type: "ignored", kind: "anonymous" };
    }
    throw new MessageError(
      type === "identify"
        ? "an identify message needs a userId"
        : "a track message needs a userId or context.groupId",
    );
  }
  if (type === "identify") {
    const traits = objectField(raw, "traits");
    const used = new Set(["email", "name", "createdAt", "created_at", "firstName", "lastName"]);
    const email = sized("email", "traits.email", textTrait(traits, ["email"]));
    const first = textTrait(traits, ["firstName"]);
    const last = textTrait(traits, ["lastName"]);
    const joined = [first, last].filter((p) => p !== undefined && p !== "").join(" ");
    const name = textTrait(traits, ["name"]) ?? (joined !== "" ? joined : undefined);
    if (name === undefined) {
      used.delete("firstName");
      used.delete("lastName");
    }
    const createdAt = instantTrait(traits, ["createdAt", "created_at"], parseInstant);
    return {
      type: "identify",
      user: {
        userId: userId as string,
        accountId: contextGroup,
        ...(email !== undefined ? { email } : {}),
        ...(name !== undefined ? { name: sized("name", "traits.name", name) } : {}),
        ...(createdAt !== undefined ? { createdAt } : {}),
        attributes: checkedAttributes("traits", otherTraits(traits, used)),
        seenAt: at,
      },
    };
  }
  const event = raw.event;
  if (typeof event !== "string" || event.trim() === "") {
    throw new MessageError("a track message needs an event name (text)");
  }
  const properties = objectField(raw, "properties");
  const module = properties.module;
  if (module !== undefined && module !== null && typeof module !== "string") {
    throw new MessageError("properties.module must be text");
  }
  return {
    type: "track",
    event: {
      eventId: idOf(raw, "messageId", "event_id"),
      userId,
      accountId: contextGroup,
      activity: sized("activity", "event", event),
      module:
        module === ""
          ? null
          : sized("module", "properties.module", (module as string | null | undefined) ?? null),
      count: count(properties),
      occurredAt: at,
      receivedAt: new Date(ctx.receivedAt).toISOString(),
    },
  };
}
