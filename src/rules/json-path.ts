/**
 * The JSONPath subset a rule's `path` may use: one field of an object fact,
 * reached by names and array indexes (`$.plan`, `$.limits.seats`,
 * `$['billing plan']`, `$.owners[0]`). Wildcards, filters and recursive
 * descent select several values, which a comparison cannot use.
 */
const segment =
  /^(?:\.([A-Za-z_$][A-Za-z0-9_$-]*)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]|\["((?:[^"\\]|\\.)*)"\])/;

/** The segments of a path, or undefined when it is not in the supported subset. */
export function parseJsonPath(path: string): (string | number)[] | undefined {
  if (!path.startsWith("$")) return undefined;
  const out: (string | number)[] = [];
  let rest = path.slice(1);
  while (rest.length > 0) {
    const match = segment.exec(rest);
    if (!match) return undefined;
    if (match[1] !== undefined) out.push(match[1]);
    else if (match[2] !== undefined) out.push(Number(match[2]));
    else out.push((match[3] ?? match[4]).replace(/\\(.)/g, "$1"));
    rest = rest.slice(match[0].length);
  }
  return out;
}
