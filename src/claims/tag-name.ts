import { InputError } from "../errors/index.ts";
import { MAX_TAG_NAME_LENGTH } from "../limits.ts";

/**
 * Characters a tag name may not hold, each with the words a message names it
 * by: control characters (a CR/LF would fake lines in `profile`), bidi
 * overrides and isolates (they reorder what is shown) and zero-width
 * characters (`new\u200buser` would look like `newuser` yet be another tag).
 */
const forbidden: readonly { pattern: RegExp; what: string }[] = [
  { pattern: /\p{Cc}/u, what: "a control character (line break, tab, NUL...)" },
  { pattern: /[\u202a-\u202e\u2066-\u2069]/u, what: "a bidirectional override or isolate" },
  {
    // A zero-width joiner between two emoji is part of one emoji (👩‍🚀), so it stays; anywhere else it hides.
    pattern:
      /[\u200b\u200c\u2060\ufeff]|(?<!\p{Extended_Pictographic}[\u{1f3fb}-\u{1f3ff}\ufe0f]?)\u200d|\u200d(?!\p{Extended_Pictographic})/u,
    what: "a zero-width character",
  },
];

function codePoint(ch: string): string {
  return `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
}

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
  // Length in characters as people count them (an emoji is one), not UTF-16 units.
  const length = [...name].length;
  if (length > MAX_TAG_NAME_LENGTH) {
    throw new InputError(
      `${field} is ${length} characters long; tag names have at most ${MAX_TAG_NAME_LENGTH}`,
      { code: "invalid_tag_name", details: { field } },
    );
  }
  for (const { pattern, what } of forbidden) {
    const found = pattern.exec(name);
    if (found) {
      throw new InputError(
        `${field} contains ${what} (${codePoint(found[0])}) at character ${[...name.slice(0, found.index)].length + 1}; tag names may not: remove it`,
        { code: "invalid_tag_name", details: { field } },
      );
    }
  }
  return name;
}
