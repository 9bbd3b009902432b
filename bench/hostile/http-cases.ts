/**
 * The HTTP cases of `npm run bench:hostile`: generated from the server's
 * OpenAPI document, tracking messages with hostile fields, and raw bytes.
 */

export interface HttpCase {
  group: string;
  name: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** Whether a 4xx answer says part of the input was stored (the tracking API stores a batch's good messages). */
  storesPart?: (body: string) => boolean;
}

export interface RawCase {
  name: string;
  bytes: Buffer;
}

/** A JSON text nested `depth` deep, written by hand: JSON.stringify overflows the stack first. */
function nested(depth: number): string {
  return `${"[".repeat(depth)}1${"]".repeat(depth)}`;
}

/** Hostile values for a JSON field, as JSON text (some cannot be built as values and stringified). */
const JSON_VALUES: [string, string][] = [
  ["a NUL character", JSON.stringify("a\u0000b")],
  ["100 KB of text", JSON.stringify("x".repeat(100_000))],
  ["5 MB of text", JSON.stringify("x".repeat(5_000_000))],
  ["SQL", JSON.stringify("'; drop table users; --")],
  ["a bidi override", JSON.stringify("\u202eevil")],
  ["a zero-width space", JSON.stringify("new\u200buser")],
  ["a lone surrogate", '"\\ud800x"'],
  ["CR and LF", JSON.stringify("a\r\nb")],
  ["a formula", JSON.stringify("=cmd|' /C calc'!A0")],
  ["an empty string", '""'],
  ["a path", JSON.stringify("../../../etc/passwd")],
  ["null", "null"],
  ["true", "true"],
  ["-1", "-1"],
  ["2^31", "2147483648"],
  ["2^63", "9223372036854775808"],
  ["1e308", "1e308"],
  ["a fraction", "0.5"],
  ["an empty array", "[]"],
  ["an empty object", "{}"],
  ["nested 10,000 deep", nested(10_000)],
  ["__proto__", '{"__proto__":{"polluted":true}}'],
  ["year 0", '"0000-01-01T00:00:00Z"'],
  ["February 30", '"2027-02-30"'],
  ["an array of 200,000 ids", JSON.stringify(Array.from({ length: 200_000 }, (_, i) => `u${i}`))],
];

/** Hostile values for a path or query parameter, already percent-encoded. */
const URL_VALUES: [string, string][] = [
  ["a NUL character", "a%00b"],
  ["5,000 characters", "x".repeat(5000)],
  ["SQL", encodeURIComponent("' or 1=1 --")],
  ["a bidi override", encodeURIComponent("\u202eevil")],
  ["invalid UTF-8", "%ff%fe"],
  ["an encoded lone surrogate", "%ed%a0%80"],
  ["a path", encodeURIComponent("../../etc/passwd")],
  ["an empty value", ""],
  ["-1", "-1"],
  ["2^63", "9223372036854775808"],
  ["year 0", "0000-01-01"],
  ["February 30", "2027-02-30"],
  ["year 99999", "99999-01-01T00:00:00Z"],
  ["a percent sign", "%"],
  ["a JSON text", encodeURIComponent('{"all":[]}')],
];

interface Schema {
  type?: string | string[];
  enum?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  minimum?: number;
  format?: string;
}
interface Operation {
  parameters?: { in: string; name: string; required?: boolean; schema?: Schema }[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}
export interface OpenApi {
  paths: Record<string, Record<string, Operation>>;
}

/** A plausible value for a schema, so that one hostile field at a time reaches the handler. */
function plausible(schema: Schema | undefined): unknown {
  if (!schema) return "u1";
  if (schema.enum && schema.enum.length > 0) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case "integer":
    case "number":
      return Math.max(1, schema.minimum ?? 1);
    case "boolean":
      return false;
    case "array":
      return [plausible(schema.items)];
    case "object": {
      const out: Record<string, unknown> = {};
      for (const name of schema.required ?? []) out[name] = plausible(schema.properties?.[name]);
      return out;
    }
    default:
      return schema.format === "date-time" ? "2026-01-01T00:00:00Z" : "u1";
  }
}

function plausibleParam(name: string, schema: Schema | undefined): string {
  if (name === "type" || name === "entityType") return "users";
  return String(plausible(schema));
}

/** One case per (operation, parameter or top-level body property, hostile value). */
export function httpCases(doc: OpenApi, key: string): HttpCase[] {
  const cases: HttpCase[] = [];
  const auth = { authorization: `Bearer ${key}` };
  for (const [template, operations] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(operations)) {
      if (!["get", "post", "put", "patch", "delete"].includes(method)) continue;
      const params = op.parameters ?? [];
      const pathParams = params.filter((p) => p.in === "path");
      const queryParams = params.filter((p) => p.in === "query");
      const bodySchema = op.requestBody?.content?.["application/json"]?.schema;
      const fillPath = (hostile?: { name: string; value: string }) =>
        template.replace(/\{(\w+)\}/g, (_, name: string) =>
          hostile?.name === name
            ? hostile.value
            : encodeURIComponent(plausibleParam(name, pathParams.find((p) => p.name === name)?.schema)),
        );
      const baseBody = bodySchema
        ? (plausible({ type: "object", ...bodySchema }) as Record<string, unknown>)
        : undefined;
      const withBody = (body: string | undefined) =>
        body === undefined
          ? { headers: auth }
          : { headers: { ...auth, "content-type": "application/json" }, body };
      const M = method.toUpperCase();
      for (const p of pathParams) {
        for (const [what, value] of URL_VALUES) {
          cases.push({
            group: "path parameters",
            name: `${M} ${template}: ${p.name} = ${what}`,
            method: M,
            path: fillPath({ name: p.name, value }),
            ...withBody(baseBody ? JSON.stringify(baseBody) : undefined),
          });
        }
      }
      for (const p of queryParams) {
        for (const [what, value] of URL_VALUES) {
          cases.push({
            group: "query parameters",
            name: `${M} ${template}: ?${p.name}=${what}`,
            method: M,
            path: `${fillPath()}?${encodeURIComponent(p.name)}=${value}`,
            ...withBody(baseBody ? JSON.stringify(baseBody) : undefined),
          });
        }
      }
      if (!baseBody) continue;
      const properties = Object.keys(bodySchema?.properties ?? {});
      for (const name of properties) {
        for (const [what, value] of JSON_VALUES) {
          const rest = JSON.stringify({ ...baseBody, [name]: 0 }).replace(
            `"${name}":0`,
            `"${name}":${value}`,
          );
          cases.push({
            group: "body fields",
            name: `${M} ${template}: ${name} = ${what}`,
            method: M,
            path: fillPath(),
            ...withBody(rest),
          });
        }
      }
      for (const [what, body] of [
        ["malformed JSON", '{"a":'],
        ["a JSON string", '"x"'],
        ["a JSON array", "[]"],
        ["nested 10,000 deep", nested(10_000)],
        ["__proto__ at the top", '{"__proto__":{"polluted":true}}'],
        ["2 MB of JSON", JSON.stringify({ ...baseBody, padding: "x".repeat(2_000_000) })],
      ] as const) {
        cases.push({
          group: "whole bodies",
          name: `${M} ${template}: ${what}`,
          method: M,
          path: fillPath(),
          ...withBody(body),
        });
      }
    }
  }
  return cases;
}

/** A tracking message's fields (JSON pointers into the message) that reach the database. */
const MESSAGE_FIELDS: Record<string, string[]> = {
  track: [
    "userId",
    "event",
    "messageId",
    "timestamp",
    "properties.module",
    "properties.count",
    "context.groupId",
  ],
  identify: ["userId", "traits.email", "traits.name", "traits.createdAt", "traits.plan", "context.groupId"],
  group: ["groupId", "userId", "traits.name", "traits.health_score", "traits.renewal_date", "traits.tier"],
};

function message(type: string, n: number): Record<string, unknown> {
  const common = { type, messageId: `hostile-${type}-${n}`, timestamp: "2026-01-01T00:00:00Z" };
  if (type === "track") return { ...common, userId: "u1", event: "login", properties: { module: "core" } };
  if (type === "identify") return { ...common, userId: "u1", traits: { email: "u1@example.com" } };
  return { ...common, userId: "u1", groupId: "acc-hostile", traits: { name: "Hostile" } };
}

/**
 * A batch of a good message and a message with one hostile field: the good
 * one may be stored (Segment's behaviour), and the answer must say which
 * failed, or both are stored.
 */
export function ingestCases(key: string): HttpCase[] {
  const cases: HttpCase[] = [];
  const auth = `Basic ${Buffer.from(`${key}:`).toString("base64")}`;
  let n = 0;
  for (const [type, fields] of Object.entries(MESSAGE_FIELDS)) {
    for (const field of fields) {
      for (const [what, value] of JSON_VALUES) {
        if (what === "5 MB of text" || what === "an array of 200,000 ids") continue;
        n++;
        const bad = message(type, n);
        const [head, tail] = field.split(".") as [string, string | undefined];
        const placeholder = "__hostile__";
        if (tail) {
          bad[head] ??= {};
          (bad[head] as Record<string, unknown>)[tail] = placeholder;
        } else bad[head] = placeholder;
        const body = JSON.stringify({ batch: [message("track", 100_000 + n), bad] }).replace(
          `"${placeholder}"`,
          value,
        );
        cases.push({
          group: "tracking messages",
          name: `${type}.${field} = ${what}`,
          method: "POST",
          path: "/v1/batch",
          headers: { authorization: auth, "content-type": "application/json" },
          body,
          storesPart: (answer) => !/the other 0 were stored/.test(answer),
        });
      }
    }
  }
  return cases;
}

/** Bytes no HTTP client library would send, and hostile credentials. */
export function rawCases(key: string): RawCase[] {
  const req = (lines: string[], body = "") => Buffer.from(`${lines.join("\r\n")}\r\n\r\n${body}`, "latin1");
  return [
    { name: "not HTTP", bytes: Buffer.from("GARBAGE\r\n\r\n") },
    { name: "a 20 KB request line", bytes: req([`GET /v1/users/${"x".repeat(20_000)} HTTP/1.1`, "Host: x"]) },
    {
      name: "a 20 KB header",
      bytes: req(["GET /v1/me HTTP/1.1", "Host: x", `X-Big: ${"x".repeat(20_000)}`]),
    },
    {
      name: "a NUL in a header",
      bytes: req(["GET /v1/me HTTP/1.1", "Host: x", `Authorization: Bearer ${key}\u0000`]),
    },
    {
      name: "Content-Length and Transfer-Encoding both",
      bytes: req(
        ["POST /v1/tags/bulk HTTP/1.1", "Host: x", "Content-Length: 4", "Transfer-Encoding: chunked"],
        "0\r\n\r\n",
      ),
    },
    {
      name: "a bad chunk",
      bytes: req(
        ["POST /v1/batch HTTP/1.1", "Host: x", "Transfer-Encoding: chunked"],
        "zz\r\nxx\r\n0\r\n\r\n",
      ),
    },
    {
      name: "a body shorter than its Content-Length, then close",
      bytes: req(
        [
          "POST /v1/tags/bulk HTTP/1.1",
          "Host: x",
          `Authorization: Bearer ${key}`,
          "Content-Type: application/json",
          "Content-Length: 100",
        ],
        '{"a":',
      ),
    },
    {
      name: "gzip that is not gzip",
      bytes: req(
        [
          "POST /v1/batch HTTP/1.1",
          "Host: x",
          `Authorization: Bearer ${key}`,
          "Content-Type: application/json",
          "Content-Encoding: gzip",
          "Content-Length: 10",
        ],
        "0123456789",
      ),
    },
    {
      name: "a wrong content type",
      bytes: req(
        [
          "POST /v1/tags/bulk HTTP/1.1",
          "Host: x",
          `Authorization: Bearer ${key}`,
          "Content-Type: application/x-evil",
          "Content-Length: 2",
        ],
        "{}",
      ),
    },
    ...[
      ["Bearer with 8 KB", `Bearer ${"x".repeat(8000)}`],
      ["Basic that is not base64", "Basic !!!"],
      ["Basic with a NUL user", `Basic ${Buffer.from("a\u0000b:").toString("base64")}`],
      ["Basic with 8 KB", `Basic ${Buffer.from(`${"k".repeat(6000)}:`).toString("base64")}`],
      ["another scheme", `Digest ${key}`],
      ["the key with SQL", `Bearer ${key}' or '1'='1`],
      ["an empty Bearer", "Bearer "],
    ].map(([name, value]) => ({
      name: `credentials: ${name}`,
      bytes: req(["GET /v1/me HTTP/1.1", "Host: x", `Authorization: ${value}`, "Connection: close"]),
    })),
  ];
}
