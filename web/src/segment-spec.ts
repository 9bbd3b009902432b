export interface SegmentSpec {
  path: "accounts" | "users";
  taggedWith: string[];
  notTagged: string[];
  match: "all" | "any";
  conditions?: unknown;
}

/** The body every segment route takes for the same query (page, bulk tag). */
export function segmentBody(s: SegmentSpec) {
  return {
    taggedWith: s.taggedWith,
    notTagged: s.notTagged,
    match: s.match,
    ...(s.conditions === undefined ? {} : { conditions: s.conditions }),
  };
}
