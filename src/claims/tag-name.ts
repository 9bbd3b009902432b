import { InputError } from "../errors/index.ts";

export const MAX_TAG_NAME_LENGTH = 200;

/**
 * A tag name as people type it: surrounding white space is trimmed, and the
 * rest is kept verbatim (quotes, SQL-looking text, emoji...). Tags match
 * case-insensitively, so the name is not otherwise normalized.
 */
export function normalizeTagName(raw: unknown, field = "tag"): string {
  if (typeof raw !== "string") {
    throw new InputError(`${field} must be a string`, { code: "invalid_tag_name", details: { field } });
  }
  const name = raw.trim();
  if (name === "") {
    throw new InputError(`${field} must not be empty`, { code: "invalid_tag_name", details: { field } });
  }
  // Length in characters as people count them (an emoji is one), not UTF-16 units.
  const length = [...name].length;
  if (length > MAX_TAG_NAME_LENGTH) {
    throw new InputError(
      `${field} is ${length} characters long; tag names have at most ${MAX_TAG_NAME_LENGTH}`,
      { code: "invalid_tag_name", details: { field } },
    );
  }
  if (name.includes("\u0000")) {
    throw new InputError(`${field} must not contain a NUL character`, {
      code: "invalid_tag_name",
      details: { field },
    });
  }
  return name;
}
