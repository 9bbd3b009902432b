/**
 * "Did you mean" suggestions for near misses: a key, fact, operator, param or
 * enum value that is a typo of a known one.
 */

/** Damerau-Levenshtein distance (optimal string alignment: one transposition counts as one edit). */
function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, d[i - 2][j - 2] + 1);
      }
      d[i][j] = best;
    }
  }
  return d[a.length][b.length];
}

const normalize = (s: string) => s.toLowerCase().replace(/[\s_-]/g, "");

/**
 * The closest candidate to `input`, or undefined when nothing is close enough
 * to be a plausible typo. `aliases` maps well-known other spellings (`>=`,
 * `gte`) to the candidate they mean.
 */
export function suggest(
  input: string,
  candidates: readonly string[],
  aliases: Readonly<Record<string, string>> = {},
): string | undefined {
  const alias = aliases[input] ?? aliases[normalize(input)];
  if (alias !== undefined && candidates.includes(alias)) return alias;
  const wanted = normalize(input);
  if (wanted === "") return undefined;
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    if (candidate === input) continue;
    const distance = editDistance(wanted, normalize(candidate));
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best === undefined) return undefined;
  // Up to a third of the letters may be wrong, and at least one always may.
  const allowed = Math.max(1, Math.floor(Math.max(wanted.length, normalize(best).length) / 3));
  return bestDistance <= allowed ? best : undefined;
}

/** The `n` candidates closest to `input`, nearest first (ties by name), however far they are. */
export function nearest(input: string, candidates: readonly string[], n = 3): string[] {
  const wanted = normalize(input);
  return candidates
    .filter((c) => c !== input)
    .map((c) => ({ c, d: editDistance(wanted, normalize(c)) }))
    .sort((a, b) => a.d - b.d || (a.c < b.c ? -1 : a.c > b.c ? 1 : 0))
    .slice(0, n)
    .map((x) => x.c);
}

/** `"a", "b" or "c"` for messages. */
export function listOf(values: readonly string[], conjunction = "or"): string {
  const quoted = values.map((v) => JSON.stringify(v));
  if (quoted.length <= 1) return quoted.join("");
  return `${quoted.slice(0, -1).join(", ")} ${conjunction} ${quoted[quoted.length - 1]}`;
}
