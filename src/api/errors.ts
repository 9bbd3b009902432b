import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { isConnectionLoss } from "../db/connection-errors.ts";
import { isSignaltagError } from "../errors/index.ts";
import { MAX_PATH_SEGMENT_LENGTH } from "../limits.ts";

/** The one error shape every route answers with: `{ "error": { "code", "message", ... } }`. */
export interface ErrorBody {
  error: { code: string; message: string; [detail: string]: unknown };
}

export function errorBody(code: string, message: string, details?: unknown): ErrorBody {
  const extra = details && typeof details === "object" && !Array.isArray(details) ? details : {};
  return { error: { ...(extra as Record<string, unknown>), code, message } };
}

export const errorSchema = {
  $id: "error",
  type: "object",
  description:
    "Every error: a stable code, a message a person can act on, and details such as the field or the unknown ids.",
  properties: {
    error: {
      type: "object",
      properties: {
        code: { type: "string" },
        message: { type: "string" },
        field: { type: "string" },
      },
      required: ["code", "message"],
      additionalProperties: true,
    },
  },
  required: ["error"],
} as const;

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** `/ids/3` in the body -> `body.ids[3]`. */
function fieldName(context: string, instancePath: string, child?: string): string {
  const parts = instancePath.split("/").filter(Boolean);
  if (child !== undefined) parts.push(child);
  let name = context === "querystring" ? "query" : context;
  for (const p of parts) name += /^\d+$/.test(p) ? `[${p}]` : `.${p}`;
  return name;
}

function validationBody(err: FastifyError): ErrorBody {
  const first = (err.validation as AjvError[] | undefined)?.[0];
  const context = err.validationContext ?? "body";
  if (!first) return errorBody("invalid_request", err.message);
  if (first.keyword === "required") {
    const field = fieldName(context, first.instancePath, String(first.params.missingProperty));
    return errorBody("invalid_request", `${field} is required`, { field });
  }
  if (first.keyword === "additionalProperties") {
    const field = fieldName(context, first.instancePath, String(first.params.additionalProperty));
    return errorBody("invalid_request", `${field} is not a known field`, { field });
  }
  const field = fieldName(context, first.instancePath);
  if (first.keyword === "maxItems" && field === "body.ids") {
    return errorBody(
      "too_many_ids",
      `body.ids has more than ${first.params.limit} ids; one bulk request takes at most ${first.params.limit}: split it`,
      { field, max: first.params.limit },
    );
  }
  const allowed =
    first.keyword === "enum" ? ` (${(first.params.allowedValues as unknown[]).join(", ")})` : "";
  return errorBody("invalid_request", `${field} ${first.message ?? "is invalid"}${allowed}`, { field });
}

/** Maps every error a route can raise to a status and the error shape. */
export function handleError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (err.validation) return reply.status(400).send(validationBody(err));
  if (isSignaltagError(err)) {
    const status = err.status;
    if (status >= 500) request.log.warn({ err }, "request failed");
    return reply.status(status).send(errorBody(err.code, err.message, err.details));
  }
  switch (err.code) {
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return reply
        .status(400)
        .send(
          errorBody(
            "malformed_json",
            err.code === "FST_ERR_CTP_EMPTY_JSON_BODY"
              ? "the body is empty; send a JSON object"
              : "the body is not valid JSON; send a JSON object",
            { field: "body" },
          ),
        );
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return reply
        .status(413)
        .send(errorBody("body_too_large", "the body is larger than this route accepts; split the request"));
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return reply
        .status(415)
        .send(
          errorBody(
            "unsupported_media_type",
            `content type ${JSON.stringify(request.headers["content-type"] ?? "")} is not accepted here; send application/json (text/csv for tag files)`,
          ),
        );
  }
  // A JSON syntax error raised by the parser itself.
  if (err instanceof SyntaxError || (err as { type?: string }).type === "entity.parse.failed") {
    return reply.status(400).send(errorBody("malformed_json", `the body is not valid JSON: ${err.message}`));
  }
  // Postgres cancelled a statement that ran past statement_timeout (docs/limits.md).
  if ((err.cause as { code?: string } | undefined)?.code === "57014" || err.code === "57014") {
    request.log.warn({ err }, "statement timeout");
    return reply
      .status(503)
      .send(
        errorBody(
          "statement_timeout",
          "the database took longer than this server allows for one statement: narrow the request, or try again when the server is less busy",
        ),
      );
  }
  // A restart or failover: the pool reconnects on its own, so the same request will succeed shortly.
  if (isConnectionLoss(err)) {
    request.log.warn({ err }, "database unavailable");
    return reply
      .status(503)
      .header("retry-after", "1")
      .send(
        errorBody(
          "database_unavailable",
          "the database is not answering (restarting or unreachable); try again in a moment",
        ),
      );
  }
  const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
  if (status >= 500) {
    request.log.error({ err }, "request failed");
    return reply
      .status(status)
      .send(errorBody("internal_error", "something went wrong on our side; it is logged"));
  }
  return reply
    .status(status)
    .send(errorBody((err.code ?? "bad_request").toLowerCase().replace(/^fst_err_/, ""), err.message));
}

export function handleNotFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply
    .status(404)
    .send(errorBody("route_not_found", `no route ${request.method} ${request.url.split("?")[0]}; see /docs`));
}

/**
 * Errors the router raises before any route runs (Fastify's frameworkErrors):
 * a path segment past the router's limit (414) or a path whose percent
 * encoding is broken (400), in the one error shape; the path itself is not
 * echoed back.
 */
export function handleFrameworkError(
  err: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (err.code === "FST_ERR_MAX_PARAM_LENGTH") {
    return reply
      .status(414)
      .send(
        errorBody(
          "uri_too_long",
          `a segment of the path is longer than ${MAX_PATH_SEGMENT_LENGTH} characters; no id is that long`,
        ),
      );
  }
  if (err.code === "FST_ERR_BAD_URL") {
    return reply
      .status(400)
      .send(errorBody("bad_url", "the path is not valid: a percent sign must start an escape such as %20"));
  }
  return handleError(err, request, reply);
}

const clientErrors: Record<string, [number, string, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, "request_timeout", "the request was not received in time"],
  HPE_HEADER_OVERFLOW: [
    431,
    "headers_too_large",
    "the request line and headers are larger than this server accepts (16 KB in all): shorten the URL or the headers",
  ],
};

/**
 * A request Node's HTTP parser refused before Fastify saw it (headers or URL
 * too large, a malformed request line): answered in the one error shape, as
 * Fastify's default handler would otherwise answer in its own.
 */
export function handleClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const [status, code, message] = clientErrors[err.code ?? ""] ?? [
    400,
    "bad_request",
    "the request is not valid HTTP/1.1",
  ];
  const body = JSON.stringify(errorBody(code, message));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
