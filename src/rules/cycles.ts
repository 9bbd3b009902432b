/**
 * Dependencies between rules: a rule that tests `tags` for another rule's tag
 * (same target) runs after it. A cycle of such tests has no order to run in
 * and is a validation error.
 */
import { toPointer } from "./json-pointer.ts";
import type { LoadedRule, RuleDefinition } from "./types.ts";

interface TagTest {
  tag: string;
  /** Where the test is, as a JSON pointer into the rule file. */
  pointer: string;
}

/** Every `tags` contains/doesNotContain test in a rule (conditions, exitConditions and shared conditions). */
function tagTests(def: RuleDefinition): TagTest[] {
  const out: TagTest[] = [];
  const walk = (node: unknown, path: (string | number)[]) => {
    if (Array.isArray(node)) {
      for (const [i, child] of node.entries()) walk(child, [...path, i]);
      return;
    }
    if (typeof node !== "object" || node === null) return;
    const n = node as Record<string, unknown>;
    if (n.fact === "tags" && typeof n.value === "string") {
      out.push({ tag: n.value, pointer: toPointer([...path, "value"]) });
      return;
    }
    for (const key of ["all", "any", "not"]) if (key in n) walk(n[key], [...path, key]);
  };
  walk(def.conditions, ["conditions"]);
  if (def.exitConditions) walk(def.exitConditions, ["exitConditions"]);
  for (const [name, node] of Object.entries(def.sharedConditions ?? {}))
    walk(node, ["sharedConditions", name]);
  return out;
}

const tagKey = (target: string, tag: string) => `${target}\0${tag.toLowerCase()}`;

interface Edge {
  /** The rule whose tag is tested. */
  producer: number;
  /** Where the consuming rule tests it. */
  pointer: string;
}

/** For each rule (by index), the rules it depends on. Tags compare case-insensitively, as tags are unique that way. */
function dependencies(rules: readonly LoadedRule[]): Edge[][] {
  const producers = new Map<string, number[]>();
  rules.forEach((rule, i) => {
    const key = tagKey(rule.definition.target, rule.definition.tag);
    producers.set(key, [...(producers.get(key) ?? []), i]);
  });
  return rules.map((rule) =>
    tagTests(rule.definition).flatMap(({ tag, pointer }) =>
      (producers.get(tagKey(rule.definition.target, tag)) ?? []).map((producer) => ({ producer, pointer })),
    ),
  );
}

const byId = (a: LoadedRule, b: LoadedRule) =>
  a.definition.id < b.definition.id ? -1 : a.definition.id > b.definition.id ? 1 : 0;

/**
 * Producers of tags first; otherwise by id. Rules caught in a cycle (which
 * validation refuses) come last, by id.
 */
export function orderByDependencies(rules: LoadedRule[]): LoadedRule[] {
  const sorted = [...rules].sort(byId);
  const deps = dependencies(sorted).map((edges) => new Set(edges.map((e) => e.producer)));
  const done = new Set<number>();
  const out: LoadedRule[] = [];
  for (;;) {
    // The first rule by id whose producers have all run (a rule testing its own tag waits on nothing else).
    const next = sorted.findIndex(
      (_, i) => !done.has(i) && [...deps[i]].every((p) => p === i || done.has(p)),
    );
    if (next === -1 || deps[next].has(next)) {
      if (next !== -1) {
        done.add(next);
        out.push(sorted[next]);
        continue;
      }
      break;
    }
    done.add(next);
    out.push(sorted[next]);
  }
  sorted.forEach((rule, i) => {
    if (!done.has(i)) out.push(rule);
  });
  return out;
}

/**
 * For each rule of a run already in dependency order, the earlier rules whose
 * tag it tests: when rules run at once, it starts only after they finished.
 * (Two rules never assign the same tag to one target: validation refuses it.)
 */
export function mustWaitFor(ordered: readonly LoadedRule[]): number[][] {
  return dependencies(ordered).map((edges, i) => [
    ...new Set(edges.map((e) => e.producer).filter((j) => j < i)),
  ]);
}

export interface RuleCycle {
  /** The rule ids around the cycle, first id repeated at the end: a -> b -> a. */
  ids: string[];
  /** Every rule in the group the cycle belongs to, by id (more than `ids` when cycles overlap). */
  members: string[];
  /** The rule the cycle is reported on (the smallest id in it) and where it tests the next rule's tag. */
  rule: LoadedRule;
  pointer: string;
}

/** Each cycle of tag tests, once (one per strongly connected group of rules). */
export function findCycles(rules: readonly LoadedRule[]): RuleCycle[] {
  const sorted = [...rules].sort(byId);
  const deps = dependencies(sorted);
  // Tarjan's strongly connected components over "depends on" edges.
  let counter = 0;
  const index = new Map<number, number>();
  const low = new Map<number, number>();
  const onStack = new Set<number>();
  const stack: number[] = [];
  const components: number[][] = [];
  const connect = (v: number) => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const { producer: w } of deps[v]) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: number[] = [];
      let w: number;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      components.push(component);
    }
  };
  sorted.forEach((_, i) => {
    if (!index.has(i)) connect(i);
  });

  const cycles: RuleCycle[] = [];
  for (const component of components) {
    const members = new Set(component);
    const start = Math.min(...component);
    const selfLoop = deps[start].find((e) => e.producer === start);
    if (component.length === 1 && !selfLoop) continue;
    // The shortest way back to the first rule, found breadth-first inside the group.
    const path = component.length === 1 ? [start, start] : shortestCycle(start, members, deps);
    const firstPointer = deps[start].find((e) => e.producer === path[1])!.pointer;
    cycles.push({
      ids: path.map((i) => sorted[i].definition.id),
      members: [...component].sort((a, b) => a - b).map((i) => sorted[i].definition.id),
      rule: sorted[start],
      pointer: firstPointer,
    });
  }
  return cycles.sort((a, b) => byId(a.rule, b.rule));
}

function shortestCycle(start: number, members: Set<number>, deps: Edge[][]): number[] {
  const parent = new Map<number, number>();
  const queue = [start];
  while (queue.length > 0) {
    const current = queue.shift()!;
    const producers = deps[current]
      .map((e) => e.producer)
      .filter((p) => members.has(p))
      .sort((a, b) => a - b);
    if (current !== start && producers.includes(start)) {
      const path = [current];
      for (let p = current; p !== start; p = parent.get(p)!) path.unshift(parent.get(p)!);
      return [...path, start];
    }
    for (const p of producers) {
      if (p === start || parent.has(p)) continue;
      parent.set(p, current);
      queue.push(p);
    }
  }
  return [start, start];
}
