import type { FastifyInstance } from "fastify";
import { InputError } from "../errors/index.ts";

type Part = { value: unknown; field: string };

/** The first string (key or value) holding a NUL character, by its field name, without recursion. */
export function fieldWithNul(value: unknown, field: string): string | undefined {
  const stack: Part[] = [{ value, field }];
  while (stack.length > 0) {
    const part = stack.pop()!;
    const v = part.value;
    if (typeof v === "string") {
      if (v.includes("\u0000")) return part.field;
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], field: `${part.field}[${i}]` });
    } else if (v !== null && typeof v === "object") {
      for (const [key, child] of Object.entries(v).reverse()) {
        if (key.includes("\u0000")) return `${part.field} key ${JSON.stringify(key)}`;
        stack.push({ value: child, field: `${part.field}.${key}` });
      }
    }
  }
  return undefined;
}

/**
 * Postgres cannot store a NUL character in text, so a NUL anywhere in a
 * request's path, query or JSON body is refused up front, naming the field,
 * instead of failing deep inside a query as a 500.
 */
export function refuseNulCharacters(app: FastifyInstance): void {
  app.addHook("preValidation", async (request) => {
    const field =
      fieldWithNul(request.params, "params") ??
      fieldWithNul(request.query, "query") ??
      fieldWithNul(request.body, "body");
    if (field !== undefined) {
      throw new InputError(`${field} contains a NUL character (\\u0000), which cannot be stored: remove it`, {
        code: "nul_character",
        details: { field },
      });
    }
  });
}
