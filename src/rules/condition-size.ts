/**
 * The size limits of one condition tree (docs/limits.md): how many condition
 * nodes it holds and how deep all/any/not nest. Measured without recursion
 * before anything else walks the tree, so a tree nested thousands deep is a
 * problem at a JSON pointer, never a stack overflow.
 */
import { MAX_CONDITION_DEPTH, MAX_CONDITIONS } from "../limits.ts";
import type { JsonPath } from "./json-pointer.ts";
import { isObject } from "./json-values.ts";
import type { ProblemList } from "./problems.ts";

interface Visit {
  node: unknown;
  depth: number;
  parent?: Visit;
  /** The tokens from the parent to this node: ["not"] or ["any", 3]. */
  keys?: readonly (string | number)[];
}

function pathOf(visit: Visit, root: JsonPath): JsonPath {
  const tail: (string | number)[] = [];
  for (let v: Visit | undefined = visit; v?.parent; v = v.parent) tail.unshift(...(v.keys ?? []));
  return [...root, ...tail];
}

/** Reports a tree over the limits and returns false; true when it is within them. */
export function checkConditionSize(node: unknown, path: JsonPath, problems: ProblemList): boolean {
  const stack: Visit[] = [{ node, depth: 1 }];
  let count = 0;
  while (stack.length > 0) {
    const visit = stack.pop()!;
    count++;
    if (count > MAX_CONDITIONS) {
      problems.add(
        path,
        `this condition tree has more than ${MAX_CONDITIONS} conditions, the limit: narrow it, or split it into several rules or segments`,
      );
      return false;
    }
    if (visit.depth > MAX_CONDITION_DEPTH) {
      problems.add(
        pathOf(visit, path),
        `conditions nest more than ${MAX_CONDITION_DEPTH} levels deep here, the limit: flatten the tree (all/any of all/any can usually be merged)`,
      );
      return false;
    }
    const n = visit.node;
    if (!isObject(n)) continue;
    if ("not" in n) stack.push({ node: n.not, depth: visit.depth + 1, parent: visit, keys: ["not"] });
    for (const kind of ["all", "any"] as const) {
      const list = n[kind];
      if (!Array.isArray(list)) continue;
      // Reversed onto the stack, so nodes are visited (and the first deep one reported) in document order.
      for (let i = list.length - 1; i >= 0; i--) {
        stack.push({ node: list[i], depth: visit.depth + 1, parent: visit, keys: [kind, i] });
      }
    }
  }
  return true;
}
