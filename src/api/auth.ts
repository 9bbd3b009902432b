import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { type ApiKeyRole, type ApiKeyRow, type KeyAuthenticator, roleAllows } from "../keys/keys.ts";
import { errorBody } from "./errors.ts";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The least role a key needs for this route; absent means the route needs no key. */
    role?: ApiKeyRole;
    /** Ask browsers for Basic credentials (the key as password) on 401: the queue dashboard. */
    basicChallenge?: boolean;
    /** Without an Authorization header, take the key from the JSON body's `writeKey` (Segment's tracking API allows it). */
    keyInBody?: boolean;
    /** The route finds text Postgres cannot store itself, message by message (the tracking API). */
    textCheckedPerMessage?: boolean;
  }
  interface FastifyRequest {
    apiKey?: ApiKeyRow;
  }
}

/** The key's name: recorded as the actor of every change made with it. */
export function actorOf(request: FastifyRequest): string {
  return request.apiKey?.name ?? "unknown";
}

/**
 * API keys (Authorization: Bearer KEY) checked before anything else of the
 * request is read: 401 without a key or with a bad or revoked one, 403 when
 * the key's role is below the route's. Routes without a role (/health, the
 * documentation) and unknown routes need no key.
 */
export function registerAuth(app: FastifyInstance, authenticator: KeyAuthenticator): void {
  app.decorateRequest("apiKey", undefined);
  app.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
    const config = request.routeOptions.config;
    const needed = config.role;
    if (!needed || request.is404) return;
    const challenge = config.basicChallenge
      ? 'Basic realm="signaltag: any user name, the API key as password"'
      : 'Bearer realm="signaltag"';
    const presented = presentedKey(request.headers.authorization);
    // Checked once the body is parsed (below): the key travels in it.
    if (presented === undefined && config.keyInBody && request.headers.authorization === undefined) return;
    if (presented === undefined) {
      return reply
        .status(401)
        .header("www-authenticate", challenge)
        .send(
          errorBody(
            "unauthorized",
            request.headers.authorization
              ? 'the Authorization header must be "Bearer <key>"'
              : 'this route needs an API key: send "Authorization: Bearer <key>" (create one with signaltag keys create)',
          ),
        );
    }
    return admit(request, reply, authenticator, presented, needed, challenge);
  });
  app.addHook("preHandler", async (request: FastifyRequest, reply: FastifyReply) => {
    const config = request.routeOptions.config;
    const needed = config.role;
    if (!needed || !config.keyInBody || request.apiKey || request.is404 || reply.sent) return;
    const body = request.body as { writeKey?: unknown } | undefined;
    const writeKey = body && typeof body === "object" && !Array.isArray(body) ? body.writeKey : undefined;
    if (typeof writeKey !== "string" || writeKey === "") {
      return reply
        .status(401)
        .header("www-authenticate", 'Basic realm="signaltag: the write key as user name"')
        .send(
          errorBody(
            "unauthorized",
            'this route needs an API key: send it as the Basic user name (a Segment write key), as "Authorization: Bearer <key>", or as the body\'s writeKey',
          ),
        );
    }
    return admit(request, reply, authenticator, writeKey, needed, 'Bearer realm="signaltag"');
  });
}

async function admit(
  request: FastifyRequest,
  reply: FastifyReply,
  authenticator: KeyAuthenticator,
  presented: string,
  needed: ApiKeyRole,
  challenge: string,
) {
  const key = await authenticator.authenticate(presented);
  if (!key) {
    return reply
      .status(401)
      .header("www-authenticate", challenge)
      .send(errorBody("invalid_key", "the API key is unknown or has been revoked"));
  }
  if (!roleAllows(key.role, needed)) {
    return reply.status(403).send(
      errorBody(
        "forbidden",
        `this route needs the ${needed} role; key ${JSON.stringify(key.name)} is ${key.role}`,
        {
          role: key.role,
          required: needed,
        },
      ),
    );
  }
  request.apiKey = key;
}

/**
 * The key of `Bearer <key>`, or of Basic credentials: the password (browsers,
 * any user name), or the user name when the password is empty (Segment's and
 * RudderStack's libraries send the write key so).
 */
function presentedKey(header: string | undefined): string | undefined {
  if (typeof header !== "string") return undefined;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) return bearer[1];
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (basic) {
    const decoded = Buffer.from(basic[1]!, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return undefined;
    const password = decoded.slice(colon + 1);
    const user = decoded.slice(0, colon);
    if (password !== "") return password;
    return user !== "" ? user : undefined;
  }
  return undefined;
}
