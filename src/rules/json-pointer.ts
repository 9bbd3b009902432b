/** JSON Pointers (RFC 6901): how a problem says where in a rule file it is. */
export type JsonPath = readonly (string | number)[];

export function escapeToken(token: string | number): string {
  return String(token).replace(/~/g, "~0").replace(/\//g, "~1");
}

/** `["conditions", "all", 0, "fact"]` -> `/conditions/all/0/fact`; the whole document is "". */
export function toPointer(path: JsonPath): string {
  return path.map((token) => `/${escapeToken(token)}`).join("");
}
