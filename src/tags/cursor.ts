import { InputError } from "../errors/index.ts";

/** Opaque keyset cursors: base64url of a small JSON value. */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
}

export function decodeCursor<T>(cursor: string, check: (value: unknown) => value is T, field = "cursor"): T {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    value = undefined;
  }
  if (!check(value)) {
    throw new InputError(`${field} is not a cursor this API returned; start again without it`, {
      code: "invalid_cursor",
      details: { field },
    });
  }
  return value;
}

export const isString = (v: unknown): v is string => typeof v === "string";
