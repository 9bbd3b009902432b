/**
 * The rule file format as one zod definition. The validator parses a file's
 * metadata with it, and rules/rule.schema.json is generated from it (see
 * `ruleJsonSchema`), so editors complete and check the same format.
 * Conditions get a hand-written walker in validate-conditions.ts on top,
 * because their checks depend on the catalog and on the rule's target.
 */
import { CronExpressionParser } from "cron-parser";
import { z } from "zod";
import {
  entityTypes,
  factCatalog,
  factNames,
  MAX_WINDOW_DAYS,
  operatorNames,
  operators,
} from "../facts/catalog.ts";
import { MAX_TAG_NAME_LENGTH } from "../limits.ts";

/** Lowercase letters, digits, "-" and "_"; starts with a letter or digit. */
const ruleIdPattern = /^[a-z0-9][a-z0-9_-]*$/;
const MAX_ID_LENGTH = 100;
/** No leading or trailing whitespace (tags are compared as written, case-insensitively). */
const trimmedPattern = /^\S(?:[\s\S]*\S)?$/;

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Why a cron expression is refused, or undefined when it is a valid 5- or 6-field expression. */
function cronProblem(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/).filter(Boolean);
  if (expression.trim().startsWith("@")) {
    return `cron aliases such as ${JSON.stringify(expression.trim())} are not supported: write the fields, e.g. "0 0 * * *" for daily at midnight`;
  }
  if (fields.length !== 5 && fields.length !== 6) {
    return `cron expression ${JSON.stringify(expression)} has ${fields.length} field${fields.length === 1 ? "" : "s"}: use 5 (minute hour day-of-month month day-of-week, e.g. "0 * * * *" for hourly) or 6 (with seconds first)`;
  }
  try {
    CronExpressionParser.parse(fields.join(" "), { tz: "UTC" });
    return undefined;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return `cron expression ${JSON.stringify(expression)} is invalid (${reason}): use e.g. "0 * * * *" for hourly or "0 6 * * *" for daily at 06:00`;
  }
}

const missing = (key: string, hint: string) => (iss: { input?: unknown }) =>
  iss.input === undefined ? `missing "${key}": ${hint}` : `"${key}" must be ${hint.replace(/^add /, "")}`;

const scheduleSchema = z
  .strictObject(
    {
      cron: z
        .string({ error: missing("cron", 'add a cron expression such as "0 * * * *" (hourly)') })
        .superRefine((cron, ctx) => {
          const problem = cronProblem(cron);
          if (problem) ctx.addIssue({ code: "custom", message: problem });
        })
        .describe(
          '5-field (minute hour day month weekday) or 6-field (seconds first) cron expression, e.g. "0 * * * *"',
        ),
      timezone: z
        .string({ error: missing("timezone", 'add an IANA time zone such as "UTC" or "Europe/Berlin"') })
        .superRefine((tz, ctx) => {
          if (!isTimeZone(tz)) {
            ctx.addIssue({
              code: "custom",
              message: `unknown time zone ${JSON.stringify(tz)}: use an IANA name such as "UTC" or "Europe/Berlin"`,
            });
          }
        })
        .describe('IANA time zone the cron expression is read in, e.g. "UTC" or "Europe/Berlin"'),
    },
    { error: '"schedule" must be an object such as { "cron": "0 * * * *", "timezone": "UTC" }' },
  )
  .describe("When the scheduler runs this rule. Without a schedule the rule runs only on demand.");

const daysParam = z
  .int({ error: `"days" must be a whole number of days from 1 to ${MAX_WINDOW_DAYS}` })
  .min(1, { error: `"days" must be at least 1` })
  .max(MAX_WINDOW_DAYS, { error: `"days" must be at most ${MAX_WINDOW_DAYS}` })
  .describe("window length in calendar days, ending today");

const paramsSchema = z
  .strictObject({
    days: daysParam.optional(),
    activity: z.string().min(1).optional().describe("only events of this activity"),
    module: z.string().min(1).optional().describe("only events of this module"),
  })
  .describe("The fact's parameters; which ones a fact takes is listed in the fact catalog.");

const factEnum = z
  .enum(factNames as [string, ...string[]])
  .meta({ enumDescriptions: factNames.map((name) => factCatalog[name].description) })
  .describe("A fact from the catalog.");

const operatorEnum = z
  .enum(operatorNames as [string, ...string[]])
  .meta({
    enumDescriptions: operatorNames.map((op) => {
      const kind = operators[op as keyof typeof operators];
      return kind === "number"
        ? "compares with a number"
        : kind === "array"
          ? "tests membership in an array value"
          : kind === "scalar"
            ? "tests whether a list fact holds the value"
            : "strict equality (null only for nullable facts)";
    }),
  })
  .describe("A json-rules-engine operator.");

const nodeOptions = {
  name: z.string().optional().describe("A label shown in explanations."),
  priority: z.int().min(1).optional().describe("json-rules-engine evaluation priority (higher first)."),
};

const factConditionSchema = z
  .strictObject({
    fact: factEnum,
    operator: operatorEnum,
    value: z.unknown().describe("What the fact is compared with."),
    params: paramsSchema.optional(),
    path: z
      .string()
      .regex(/^\$/)
      .optional()
      .describe('JSONPath into an object fact (attributes, account), e.g. "$.plan".'),
    ...nodeOptions,
  })
  .meta({ id: "factCondition" })
  .describe("Tests one fact.");

const conditionSchema: z.ZodType = z
  .union([
    factConditionSchema,
    z.strictObject({
      get all() {
        return z.array(conditionSchema).min(1);
      },
      ...nodeOptions,
    }),
    z.strictObject({
      get any() {
        return z.array(conditionSchema).min(1);
      },
      ...nodeOptions,
    }),
    z.strictObject({
      get not() {
        return conditionSchema;
      },
      ...nodeOptions,
    }),
    z.strictObject({
      condition: z.string().describe("The name of an entry in sharedConditions."),
      ...nodeOptions,
    }),
  ])
  .meta({ id: "condition" });

const topLevelConditionSchema = z
  .union([
    z.strictObject({
      all: z.array(conditionSchema).min(1).describe("Every condition must hold."),
      ...nodeOptions,
    }),
    z.strictObject({
      any: z.array(conditionSchema).min(1).describe("At least one condition must hold."),
      ...nodeOptions,
    }),
    z.strictObject({ not: conditionSchema.describe("This condition must not hold."), ...nodeOptions }),
    z.strictObject({
      condition: z.string().describe("The name of an entry in sharedConditions."),
      ...nodeOptions,
    }),
  ])
  .meta({ id: "topLevelCondition" })
  .describe("json-rules-engine conditions: all, any, not or a reference to a shared condition.");

const ruleFileSchema = z
  .strictObject({
    $schema: z
      .string({ error: '"$schema" must be a string such as "./rule.schema.json"' })
      .optional()
      .describe('Editor support: "./rule.schema.json".'),
    id: z
      .string({
        error: missing("id", 'add a unique id such as "power-users" (lowercase letters, digits, - and _)'),
      })
      .max(MAX_ID_LENGTH, { error: `"id" is longer than ${MAX_ID_LENGTH} characters: shorten it` })
      .regex(ruleIdPattern, {
        error:
          '"id" may contain only lowercase letters, digits, "-" and "_", and starts with a letter or digit',
      })
      .describe("Unique rule id, conventionally the file name without .json."),
    name: z
      .string({ error: missing("name", 'add a display name such as "Power users"') })
      .min(1, { error: '"name" is empty: give the rule a display name' })
      .describe("Display name."),
    description: z
      .string({ error: '"description" must be a string' })
      .optional()
      .describe("What the rule is for."),
    tag: z
      .string({ error: missing("tag", 'add the name of the tag this rule assigns, e.g. "power users"') })
      .min(1, { error: '"tag" is empty: name the tag this rule assigns' })
      .regex(trimmedPattern, { error: '"tag" starts or ends with whitespace: remove it' })
      // The length (in characters as people count them, as JSON Schema's maxLength does) and the
      // characters are checked by the tag-name check every tag name passes (validate.ts).
      .meta({
        maxLength: MAX_TAG_NAME_LENGTH,
        description: "The tag this rule assigns (tags are unique case-insensitively).",
      }),
    target: z
      .enum(entityTypes as unknown as [string, ...string[]], {
        error: (iss) =>
          iss.input === undefined
            ? 'missing "target": add "user" or "account"'
            : `"target" must be "user" or "account", not ${JSON.stringify(iss.input)}`,
      })
      .describe("Which entities the rule tags."),
    enabled: z
      .boolean({ error: '"enabled" must be true or false' })
      .default(true)
      .describe("A disabled rule is validated but never run."),
    schedule: scheduleSchema.optional(),
    conditions: topLevelConditionSchema,
    exitConditions: topLevelConditionSchema.optional(),
    sharedConditions: z
      .record(z.string(), topLevelConditionSchema)
      .optional()
      .describe('Named conditions, used as { "condition": "name" } inside conditions.'),
    removalGuard: z
      .number({ error: '"removalGuard" must be a number from 0 to 1' })
      .min(0, { error: '"removalGuard" must be from 0 to 1 (a share of the rule\'s claims)' })
      .max(1, { error: '"removalGuard" must be from 0 to 1 (a share of the rule\'s claims)' })
      .optional()
      .describe("Share of this rule's claims one run may remove before it is held (default from config)."),
  })
  .describe("A signaltag rule: one tag, assigned to the users or accounts its conditions match.");

/**
 * The metadata half of the format: conditions are accepted as they are here
 * and checked by the condition walker, which knows the catalog and the target.
 */
export const ruleMetadataSchema = ruleFileSchema.extend({
  conditions: z.unknown().optional(),
  exitConditions: z.unknown().optional(),
  sharedConditions: z.unknown().optional(),
});

export const topLevelKeys = Object.keys(ruleFileSchema.shape);
export const scheduleKeys = Object.keys(scheduleSchema.shape);

type JsonObject = Record<string, unknown>;

/** JSON Schema's if/then pair. */
const ifThen = (condition: JsonObject, consequence: JsonObject): JsonObject => ({
  if: condition,
  // biome-ignore lint/suspicious/noThenProperty: `then` is the JSON Schema keyword, and this object is never awaited
  then: consequence,
});

/** Per-fact refinements that zod cannot express: which params and whether `path` apply. */
function factRefinements(): JsonObject[] {
  return factNames.map((name) => {
    const spec = factCatalog[name];
    const paramProperties: JsonObject = {};
    for (const [param, p] of Object.entries(spec.params)) {
      paramProperties[param] =
        p.type === "days"
          ? { type: "integer", minimum: 1, maximum: MAX_WINDOW_DAYS, description: p.description }
          : { type: "string", minLength: 1, description: p.description };
    }
    const requiredParams = Object.entries(spec.params)
      .filter(([, p]) => p.required)
      .map(([param]) => param);
    const then: JsonObject = {
      properties: {
        params: {
          type: "object",
          properties: paramProperties,
          required: requiredParams,
          additionalProperties: false,
        },
        ...(spec.usesPath ? {} : { path: false }),
      },
      required: [...(requiredParams.length > 0 ? ["params"] : []), ...(spec.usesPath ? ["path"] : [])],
    };
    return ifThen({ properties: { fact: { const: name } }, required: ["fact"] }, then);
  });
}

function operatorRefinements(): JsonObject[] {
  const valueTypes = { number: "number", array: "array", scalar: ["string", "number", "boolean"] };
  return Object.entries(valueTypes).map(([kind, type]) =>
    ifThen(
      {
        properties: { operator: { enum: operatorNames.filter((op) => operators[op] === kind) } },
        required: ["operator"],
      },
      { properties: { value: { type } } },
    ),
  );
}

/** The JSON Schema written to rules/rule.schema.json (draft-07, which editors support best). */
export function ruleJsonSchema(): JsonObject {
  const schema = z.toJSONSchema(ruleFileSchema, { target: "draft-07", io: "input" }) as JsonObject;
  const definitions = schema.definitions as Record<string, JsonObject>;
  const factCondition = definitions.factCondition;
  factCondition.allOf = [...factRefinements(), ...operatorRefinements()];
  return {
    $schema: schema.$schema,
    $id: "https://signaltag.dev/schemas/rule.schema.json",
    title: "signaltag rule",
    ...Object.fromEntries(Object.entries(schema).filter(([key]) => key !== "$schema")),
  };
}

/** The committed file's exact text: 2-space JSON and a final newline. */
export function ruleJsonSchemaText(): string {
  return `${JSON.stringify(ruleJsonSchema(), null, 2)}\n`;
}
