/**
 * A strict JSON parser (RFC 8259) that remembers where every value starts, so
 * a problem found at a JSON pointer can also name its line and column, and a
 * syntax error names the exact spot instead of an engine-specific message.
 */
import { InputError } from "../errors/index.ts";
import { MAX_JSON_DEPTH } from "../limits.ts";
import { escapeToken } from "./json-pointer.ts";

export interface Position {
  line: number;
  column: number;
}

export type JsonParseResult =
  | {
      ok: true;
      value: unknown;
      /** Where the value at a pointer starts (for object members: the key). */
      positions: ReadonlyMap<string, Position>;
      /** Keys that appear twice in one object (the last one wins, as with JSON.parse). */
      duplicateKeys: { pointer: string; position: Position }[];
    }
  | { ok: false; message: string; position: Position; pointer?: string };

/** A syntax error at an offset; the parser returns it as a value, with its line and column. */
class JsonSyntaxError extends InputError {
  constructor(
    message: string,
    readonly offset: number,
    readonly pointer?: string,
  ) {
    super(message, { code: "json_syntax", details: { offset } });
  }
}

export function parseJsonWithPositions(text: string): JsonParseResult {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") lineStarts.push(i + 1);
  const positionOf = (offset: number): Position => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - lineStarts[lo] + 1 };
  };

  const positions = new Map<string, Position>();
  const duplicateKeys: { pointer: string; position: Position }[] = [];
  // A leading byte order mark is not JSON, but editors write it; skip it.
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;

  const describe = (at: number) =>
    at >= text.length ? "the end of the file" : text[at] === "'" ? `"'"` : `'${text[at]}'`;
  const fail = (expected: string, at = i): never => {
    throw new JsonSyntaxError(`expected ${expected} but found ${describe(at)}`, at);
  };
  const skipWhitespace = () => {
    while (i < text.length && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r"))
      i++;
  };

  const parseString = (): string => {
    const start = i;
    i++; // opening quote
    let out = "";
    for (;;) {
      if (i >= text.length) throw new JsonSyntaxError("unterminated string: add the closing quote", start);
      const ch = text[i];
      if (ch === '"') {
        i++;
        return out;
      }
      if (ch === "\\") {
        const esc = text[i + 1];
        const simple: Record<string, string> = {
          '"': '"',
          "\\": "\\",
          "/": "/",
          b: "\b",
          f: "\f",
          n: "\n",
          r: "\r",
          t: "\t",
        };
        if (esc !== undefined && esc in simple) {
          out += simple[esc];
          i += 2;
        } else if (esc === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
          out += String.fromCharCode(Number.parseInt(text.slice(i + 2, i + 6), 16));
          i += 6;
        } else {
          throw new JsonSyntaxError("invalid escape sequence in string", i);
        }
        continue;
      }
      if (ch < " ") {
        throw new JsonSyntaxError(
          ch === "\n"
            ? "line break inside a string: close the string first"
            : "control character inside a string",
          i,
        );
      }
      out += ch;
      i++;
    }
  };

  const parseNumber = (): number => {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!match || match[0] === "-") fail("a value");
    const literal = match![0];
    i += literal.length;
    return Number(literal);
  };

  // Objects and arrays open around the value being parsed; checked before recursing, so no file overflows the stack.
  let depth = 0;
  const nested = <T>(pointer: string, parse: (pointer: string) => T): T => {
    if (++depth > MAX_JSON_DEPTH) {
      throw new JsonSyntaxError(
        `objects and arrays nest more than ${MAX_JSON_DEPTH} levels deep here, the limit: flatten the file`,
        i,
        pointer,
      );
    }
    const value = parse(pointer);
    depth--;
    return value;
  };

  const parseValue = (pointer: string): unknown => {
    skipWhitespace();
    if (!positions.has(pointer)) positions.set(pointer, positionOf(i));
    const ch = text[i];
    if (ch === "{") return nested(pointer, parseObject);
    if (ch === "[") return nested(pointer, parseArray);
    if (ch === '"') return parseString();
    if (ch === "-" || (ch !== undefined && ch >= "0" && ch <= "9")) return parseNumber();
    for (const [word, value] of [
      ["true", true],
      ["false", false],
      ["null", null],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return value;
      }
    }
    if (ch === "'") throw new JsonSyntaxError("strings must use double quotes", i);
    return fail("a value (object, array, string, number, true, false or null)");
  };

  const parseObject = (pointer: string): Record<string, unknown> => {
    i++; // {
    const out: Record<string, unknown> = {};
    skipWhitespace();
    if (text[i] === "}") {
      i++;
      return out;
    }
    for (;;) {
      skipWhitespace();
      if (text[i] !== '"') {
        if (text[i] === "}") throw new JsonSyntaxError("trailing comma before }: remove the comma", i);
        fail("a key in double quotes");
      }
      const keyStart = i;
      const key = parseString();
      const child = `${pointer}/${escapeToken(key)}`;
      if (Object.hasOwn(out, key)) duplicateKeys.push({ pointer: child, position: positionOf(keyStart) });
      positions.set(child, positionOf(keyStart));
      skipWhitespace();
      if (text[i] !== ":") fail(`":" after the key ${JSON.stringify(key)}`);
      i++;
      // defineProperty, so a key named __proto__ is data, as with JSON.parse.
      Object.defineProperty(out, key, {
        value: parseValue(child),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      skipWhitespace();
      if (text[i] === ",") {
        i++;
        continue;
      }
      if (text[i] === "}") {
        i++;
        return out;
      }
      if (text[i] === '"') throw new JsonSyntaxError('missing "," before this key', i);
      fail('"," or "}"');
    }
  };

  const parseArray = (pointer: string): unknown[] => {
    i++; // [
    const out: unknown[] = [];
    skipWhitespace();
    if (text[i] === "]") {
      i++;
      return out;
    }
    for (;;) {
      skipWhitespace();
      if (text[i] === "]") throw new JsonSyntaxError("trailing comma before ]: remove the comma", i);
      out.push(parseValue(`${pointer}/${out.length}`));
      skipWhitespace();
      if (text[i] === ",") {
        i++;
        continue;
      }
      if (text[i] === "]") {
        i++;
        return out;
      }
      if (text[i] === "{" || text[i] === '"' || text[i] === "[") {
        throw new JsonSyntaxError('missing "," before this element', i);
      }
      fail('"," or "]"');
    }
  };

  try {
    skipWhitespace();
    if (i >= text.length)
      throw new JsonSyntaxError("the file is empty: a rule file holds one JSON object", i);
    const value = parseValue("");
    skipWhitespace();
    if (i < text.length) fail("the end of the file after the top-level value");
    return { ok: true, value, positions, duplicateKeys };
  } catch (err) {
    if (err instanceof JsonSyntaxError)
      return {
        ok: false,
        message: err.message,
        position: positionOf(err.offset),
        ...(err.pointer === undefined ? {} : { pointer: err.pointer }),
      };
    throw err;
  }
}
