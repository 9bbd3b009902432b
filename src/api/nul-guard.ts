import type { FastifyInstance } from "fastify";
import { InputError } from "../errors/index.ts";
import { unstorableField } from "../storable-text.ts";

/**
 * Postgres cannot store a NUL character or a lone surrogate in text, so one
 * anywhere in a request's path, query or JSON body is refused up front,
 * naming the field, instead of failing deep inside a query as a 500. Routes
 * with `textCheckedPerMessage` (the tracking API) check each message
 * themselves: Segment answers a bad message by its index and stores the rest.
 */
export function refuseNulCharacters(app: FastifyInstance): void {
  app.addHook("preValidation", async (request) => {
    const found =
      unstorableField(request.params, "params") ??
      unstorableField(request.query, "query") ??
      (request.routeOptions.config.textCheckedPerMessage ? undefined : unstorableField(request.body, "body"));
    if (found !== undefined) {
      throw new InputError(`${found.field} ${found.problem}`, {
        code: found.code,
        details: { field: found.field },
      });
    }
  });
}
