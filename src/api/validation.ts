import { Ajv, type Options } from "ajv";
import addFormats from "ajv-formats";
import type { FastifySchemaCompiler } from "fastify";

/**
 * Two validators: query strings and path parameters are text, so their values
 * are coerced to the schema's types (and a single value to an array); JSON
 * bodies are taken as sent, so `{"ids": "u1"}` or `{"tag": 5}` is a 400
 * naming the field rather than a guess. Unknown fields are refused, never
 * silently dropped.
 */
export function validatorCompiler(): FastifySchemaCompiler<unknown> {
  const common: Options = { allErrors: false, removeAdditional: false, useDefaults: true, strict: false };
  const coercing = new Ajv({ ...common, coerceTypes: "array" });
  const strict = new Ajv({ ...common, coerceTypes: false });
  for (const ajv of [coercing, strict]) addFormats.default(ajv);
  return ({ schema, httpPart }) =>
    (httpPart === "body" ? strict : coercing).compile(schema as object) as ReturnType<
      FastifySchemaCompiler<unknown>
    >;
}
