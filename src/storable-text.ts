/*
 * Text Postgres cannot store: a NUL character (text and jsonb both refuse
 * \u0000) and a lone UTF-16 surrogate (a JSON escape such as "\ud800" parses
 * into a JavaScript string, but jsonb refuses it as invalid Unicode, and a
 * text parameter would silently become U+FFFD). Found here, it is an error
 * naming the field instead of a failed statement.
 */

/** With the u flag a whole pair is one code point, so only a lone half matches. */
const loneSurrogate = /\p{Surrogate}/u;

export interface TextProblem {
  code: "nul_character" | "lone_surrogate";
  /** Completes "<field> ...". */
  problem: string;
}

/** A lone UTF-16 surrogate in `text`, or undefined. */
export function loneSurrogateProblem(text: string): TextProblem | undefined {
  const found = loneSurrogate.exec(text);
  if (!found) return undefined;
  return {
    code: "lone_surrogate",
    problem: `contains a lone UTF-16 surrogate (\\u${found[0].charCodeAt(0).toString(16)}), which is not Unicode text and cannot be stored: send the whole character or remove it`,
  };
}

/** Why `text` cannot be stored (a NUL, a lone surrogate), or undefined. */
export function unstorableText(text: string): TextProblem | undefined {
  if (text.includes("\u0000")) {
    return {
      code: "nul_character",
      problem: "contains a NUL character (\\u0000), which cannot be stored: remove it",
    };
  }
  return loneSurrogateProblem(text);
}

type Part = { value: unknown; field: string };

const child = (parent: string, name: string) => (parent === "" ? name : `${parent}.${name}`);

/**
 * The first string (key or value) in `value` that `check` refuses (by
 * default: what cannot be stored), by its field name (`traits.note`,
 * `batch[2]`, `traits key "a\u0000"`) and why; walked with an explicit
 * stack, so deep nesting cannot overflow it.
 */
export function unstorableField(
  value: unknown,
  field: string,
  check: (text: string) => TextProblem | undefined = unstorableText,
): (TextProblem & { field: string }) | undefined {
  const stack: Part[] = [{ value, field }];
  while (stack.length > 0) {
    const part = stack.pop()!;
    const v = part.value;
    if (typeof v === "string") {
      const problem = check(v);
      if (problem !== undefined) return { ...problem, field: part.field };
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], field: `${part.field}[${i}]` });
    } else if (v !== null && typeof v === "object") {
      for (const [key, inner] of Object.entries(v).reverse()) {
        const problem = check(key);
        if (problem !== undefined) {
          return {
            ...problem,
            field: `${part.field === "" ? "" : `${part.field} `}key ${JSON.stringify(key)}`,
          };
        }
        stack.push({ value: inner, field: child(part.field, key) });
      }
    }
  }
  return undefined;
}
