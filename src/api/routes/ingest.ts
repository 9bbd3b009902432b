import { createGunzip, createInflate } from "node:zlib";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Counter, Gauge } from "prom-client";
import { InputError } from "../../errors/index.ts";
import {
  IGNORED_TYPES,
  type IngestResult,
  MESSAGE_TYPES,
  openIngest,
  waitingSummary,
} from "../../ingest/index.ts";
import { MAX_INGEST_MESSAGE_BYTES, MAX_INGEST_REQUEST_BYTES } from "../../limits.ts";
import type { ApiDeps } from "../deps.ts";
import { errorBody, handleError } from "../errors.ts";
import { ingestFollowUp } from "../ingest-followup.ts";
import { errorResponse, errorResponses } from "../schemas.ts";

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Segment answers a body over its limit with 400 naming the limit; so does signaltag. */
function limitErrors(limit: string) {
  return (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (err.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      return reply
        .status(400)
        .send(errorBody("request_too_large", `the body is larger than the limit of ${limit}; split it`));
    }
    return handleError(err, request, reply);
  };
}

/**
 * Some tracking libraries (RudderStack's) gzip their batches. The limits
 * apply to the decompressed body, which is what the messages' sizes are.
 */
async function decompress(request: FastifyRequest, _reply: FastifyReply, payload: NodeJS.ReadableStream) {
  const encoding = String(request.headers["content-encoding"] ?? "identity").toLowerCase();
  if (encoding === "identity") return payload;
  if (encoding !== "gzip" && encoding !== "deflate") {
    throw new InputError(
      `content-encoding ${JSON.stringify(encoding)} is not accepted; send gzip, deflate or none`,
      {
        code: "unsupported_encoding",
      },
    );
  }
  const inflated = encoding === "gzip" ? createGunzip() : createInflate();
  const counted = inflated as typeof inflated & { receivedEncodedLength: number };
  counted.receivedEncodedLength = 0;
  payload.on("data", (chunk: Buffer) => {
    counted.receivedEncodedLength += chunk.length;
  });
  inflated.on("error", () => {});
  payload.pipe(inflated);
  return inflated;
}

const success = {
  200: {
    type: "object",
    description:
      "every message was stored (or, for page, screen, alias and anonymousId-only ones, accepted and ignored)",
    properties: { success: { type: "boolean" } },
  },
  ...errorResponses,
  400: errorResponse(
    "a message that can never be stored (its index named; the others were stored), or a body over the limit",
  ),
  503: errorResponse(
    "too many messages are waiting to be stored, or the database is unavailable: send again",
  ),
} as const;

const security: { [scheme: string]: string[] }[] = [{ basic: [] }, { bearer: [] }];

function metricsOf(deps: ApiDeps) {
  const registers = [deps.metrics.registry];
  const messages = new Counter({
    name: "signaltag_ingest_messages_total",
    help: "Tracking-API messages received by this process, by type and outcome (committed, ignored, invalid).",
    labelNames: ["type", "outcome"],
    registers,
  });
  new Gauge({
    name: "signaltag_ingest_waiting_messages",
    help: "Tracking-API messages waiting for their user or account to become known, by kind (track, identify, member).",
    labelNames: ["kind"],
    registers,
    async collect() {
      const s = await waitingSummary(deps.database.db);
      this.set({ kind: "track" }, s.events);
      this.set({ kind: "identify" }, s.identifies);
      this.set({ kind: "member" }, s.memberships);
    },
  });
  new Counter({
    name: "signaltag_ingest_expired_messages_total",
    help: "Tracking-API messages deleted after waiting past SIGNALTAG_INGEST_WAIT_DAYS for a user or account never identified, by kind (track, identify, member); counted in the database, whichever process expired them.",
    labelNames: ["kind"],
    registers,
    async collect() {
      const { expired } = await waitingSummary(deps.database.db);
      this.reset();
      for (const [kind, n] of Object.entries(expired)) this.inc({ kind }, n);
    },
  });
  new Gauge({
    name: "signaltag_ingest_waiting_oldest_seconds",
    help: "How long the oldest waiting tracking-API message has waited (0 when none waits).",
    registers,
    async collect() {
      this.set((await waitingSummary(deps.database.db)).oldestSeconds ?? 0);
    },
  });
  return (r: IngestResult) => {
    for (const [type, n] of Object.entries(r.byType))
      if (n > 0) messages.inc({ type, outcome: "committed" }, n);
    for (const [kind, n] of Object.entries(r.ignored)) messages.inc({ type: kind, outcome: "ignored" }, n);
    if (r.problems.length > 0) messages.inc({ type: "any", outcome: "invalid" }, r.problems.length);
  };
}

/** The answer to a request: 200, or 400 naming the messages that could not be stored (the others were). */
function answer(reply: FastifyReply, r: IngestResult, where: (index: number) => string) {
  if (r.problems.length === 0) return { success: true };
  const first = r.problems[0]!;
  const more = r.problems.length > 1 ? ` (and ${r.problems.length - 1} more, listed in "invalid")` : "";
  const kept = r.committed + Object.values(r.ignored).reduce((a, b) => a + b, 0);
  return reply.status(400).send(
    errorBody(
      "invalid_message",
      `${where(first.index)}: ${first.message}${more}; the other ${kept} were stored`,
      {
        invalid: r.problems.slice(0, 100).map((p) => ({ index: p.index, message: p.message })),
      },
    ),
  );
}

/**
 * Segment's HTTP tracking API: /v1/batch and the single-message routes. An
 * ingest key (least privilege) or an admin key, sent as Segment's libraries
 * send a write key (Basic, the key as user name) or as Bearer.
 */
export function registerIngestRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const followUp = ingestFollowUp({
    database: deps.database,
    config: deps.config,
    queues: deps.queues,
    log: app.log,
  });
  const ingest = openIngest(deps.database, {
    timezone: deps.config.timezone,
    commits: deps.config.ingestCommits,
    committed: (outcome) => followUp.touched(outcome.touched),
    waitDays: deps.config.ingest.waitDays,
    now: () => deps.clock().getTime(),
    expired: (counts) =>
      app.log.info(
        { expired: counts, waitDays: deps.config.ingest.waitDays },
        "deleted tracking-API messages that waited past the retention for a user or account never identified",
      ),
    expiryFailed: (err) =>
      app.log.warn(
        { err },
        "could not delete expired waiting tracking-API messages; the next sweep tries again",
      ),
  });
  const count = metricsOf(deps);
  app.addHook("onClose", async () => {
    await ingest.close();
    await followUp.close();
  });

  app.register(async (scope) => {
    // Segment's API takes any JSON object: a trait named __proto__ is one message's problem (refused by
    // its index, src/ingest/traits.ts), not a reason to refuse the whole batch as malformed.
    const json = scope.getDefaultJsonParser("ignore", "ignore");
    scope.addContentTypeParser("application/json", { parseAs: "string" }, json);
    // Segment's browser library posts its JSON as text/plain.
    scope.addContentTypeParser("text/plain", { parseAs: "string" }, json);
    // Any page may send usage (with an ingest key, which can do nothing else), and read the answer,
    // a 401 or 400 included, so that the library knows whether to send again.
    scope.addHook("onSend", async (_request, reply, payload) => {
      reply.header("access-control-allow-origin", "*");
      return payload;
    });

    /**
     * A tracking route at `path` and, left out of the API's documentation, at
     * `short`, where Segment's browser library (analytics.js) posts; each with
     * the browser's preflight.
     */
    const route = (
      path: string,
      short: string,
      limit: { bytes: number; words: string },
      schema: { operationId: string; summary: string; body: Record<string, unknown> },
      handler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>,
    ) => {
      for (const url of [path, short]) {
        scope.post(
          url,
          {
            config: { role: "ingest", keyInBody: true, textCheckedPerMessage: true },
            bodyLimit: limit.bytes,
            errorHandler: limitErrors(limit.words),
            preParsing: decompress,
            schema: { ...schema, hide: url === short, tags: ["ingest"], security, response: success },
          },
          handler,
        );
        preflight(scope, url);
      }
    };

    route(
      "/v1/batch",
      "/v1/b",
      { bytes: MAX_INGEST_REQUEST_BYTES, words: "500 KB per request" },
      {
        operationId: "ingestBatch",
        summary:
          "Segment's batch: { batch: [identify, group, track, page, screen, alias messages], sentAt }; answered once stored",
        body: {
          type: ["object", "array"],
          description:
            "{ batch: [messages], sentAt }; also a bare array of messages, or one message with a type (as Segment's Webhooks (Actions) destination posts them)",
        },
      },
      async (request, reply) => {
        const receivedAt = deps.clock().getTime();
        const body = request.body;
        let messages: unknown[];
        if (Array.isArray(body)) messages = body;
        else if (isObject(body) && Array.isArray(body.batch)) messages = body.batch;
        else if (isObject(body) && body.batch === undefined && typeof body.type === "string")
          messages = [body];
        else {
          throw new InputError('the body must be { "batch": [messages] }', {
            details: { field: "body.batch" },
          });
        }
        const sentAt = isObject(body) && Array.isArray(body.batch) ? body.sentAt : undefined;
        const result = await ingest.accept(messages, { receivedAt, sentAt });
        count(result);
        const many = Array.isArray(body) || Array.isArray((body as { batch?: unknown }).batch);
        return answer(reply, result, (i) => (many ? `batch[${i}]` : "the message"));
      },
    );

    for (const type of MESSAGE_TYPES) {
      route(
        `/v1/${type}`,
        `/v1/${type[0]}`,
        { bytes: MAX_INGEST_MESSAGE_BYTES, words: "32 KB per message" },
        {
          operationId: `ingest${type[0]!.toUpperCase()}${type.slice(1)}`,
          summary: IGNORED_TYPES.has(type)
            ? `Segment's ${type}: one message, accepted and not stored (signaltag tags from identify, group and track)`
            : `Segment's ${type}: one message; answered once stored`,
          body: { type: "object", description: `one ${type} message`, additionalProperties: true },
        },
        async (request, reply) => {
          const result = await ingest.accept([request.body], {
            receivedAt: deps.clock().getTime(),
            impliedType: type,
          });
          count(result);
          return answer(reply, result, () => "the message");
        },
      );
    }
  });
}

/** Header names as a browser lists them in Access-Control-Request-Headers (tokens, commas, spaces). */
const HEADER_LIST = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+(\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$/;

/**
 * The browser's CORS preflight for an ingestion route, sent before a request
 * with an Authorization header, a JSON content type or headers of the
 * page's own (Segment's batching option `headers`): any origin may post,
 * with the headers it asks for.
 */
function preflight(scope: FastifyInstance, url: string): void {
  scope.options(url, { schema: { hide: true } }, async (request, reply) => {
    const asked = request.headers["access-control-request-headers"];
    const headers =
      typeof asked === "string" && asked.length <= 1_000 && HEADER_LIST.test(asked.trim())
        ? asked.trim()
        : "Authorization, Content-Type, Content-Encoding";
    return reply
      .status(204)
      .header("access-control-allow-methods", "POST")
      .header("access-control-allow-headers", headers)
      .header("access-control-max-age", "86400")
      .header("vary", "Access-Control-Request-Headers")
      .send();
  });
}
