/**
 * The limits that keep one request or one file from taking a whole process
 * down. Each is enforced in one place (named beside it) and listed in
 * docs/limits.md; change both together.
 */

/** Condition nodes (all, any, not, tests, references) in one condition tree. Enforced by rules/validate-conditions.ts. */
export const MAX_CONDITIONS = 200;

/** How deep all/any/not may nest in one condition tree (the top group is depth 1). Enforced by rules/validate-conditions.ts. */
export const MAX_CONDITION_DEPTH = 16;

/** How deep objects and arrays may nest in a rule file. Enforced by rules/json-source.ts while parsing. */
export const MAX_JSON_DEPTH = 64;
