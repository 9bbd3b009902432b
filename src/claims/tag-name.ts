import { InputError } from "../errors/index.ts";
import { tagNameProblem } from "../limits.ts";

/**
 * A tag name as people type it: surrounding white space is trimmed and the
 * name is NFC-normalised, so names that look the same are the same tag; the
 * rest is kept verbatim (quotes, SQL-looking text, emoji...). Tags match
 * case-insensitively, so case is kept. Names stored before these checks are
 * never renamed: tags are permanent.
 */
export function normalizeTagName(raw: unknown, field = "tag"): string {
  if (typeof raw !== "string") {
    throw new InputError(`${field} must be a string`, { code: "invalid_tag_name", details: { field } });
  }
  const name = raw.trim().normalize("NFC");
  if (name === "") {
    throw new InputError(`${field} must not be empty`, { code: "invalid_tag_name", details: { field } });
  }
  const problem = tagNameProblem(name);
  if (problem) {
    throw new InputError(`${field} ${problem}`, { code: "invalid_tag_name", details: { field } });
  }
  return name;
}
