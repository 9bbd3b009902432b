import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RuleDefinition } from "../../src/rules/types.ts";
import { backendUnavailable, testBackend, useTestDatabase } from "../helpers/db.ts";
import {
  addRuleClaims,
  bothPaths,
  loadWorkspace,
  ruleArb,
  sharedWindowRuleArb,
  type Workspace,
  workspaceArb,
} from "../helpers/equivalence.ts";

/** Rule cases per CI run on each backend; `npm run test:properties` raises it. */
const cases = Number(process.env.SIGNALTAG_PROPERTY_CASES ?? (testBackend() === "postgres" ? 1000 : 200));
const rulesPerWorkspace = 10;

describe.skipIf(backendUnavailable())("compiled rules", () => {
  const t = useTestDatabase();

  /** Each rule gives the same decisions, facts and explanations on both paths on workspace `w`. */
  async function expectBothPathsAgree(w: Workspace, rules: RuleDefinition[]): Promise<void> {
    await loadWorkspace(t.database, w);
    for (const rule of rules) {
      await addRuleClaims(t.database, w, rule);
      const { compiled, reference } = await bothPaths(t.database, w, rule);
      expect({ rule, compiled }).toEqual({ rule, compiled: reference });
    }
  }

  it(
    `match exactly the entities json-rules-engine matches (${cases} random rules on random workspaces)`,
    async () => {
      await fc.assert(
        fc.asyncProperty(
          workspaceArb,
          fc.array(ruleArb, { minLength: rulesPerWorkspace, maxLength: rulesPerWorkspace }),
          expectBothPathsAgree,
        ),
        {
          numRuns: Math.ceil(cases / rulesPerWorkspace),
          seed: process.env.SIGNALTAG_PROPERTY_SEED ? Number(process.env.SIGNALTAG_PROPERTY_SEED) : undefined,
        },
      );
      // 100,000 cases take about half an hour on two cores: the timeout grows with the cases.
    },
    Math.max(600_000, cases * 60),
  );

  // One aggregate serves all the leaves of a window, and reads only the rows some leaf needs.
  it("match json-rules-engine on rules whose leaves share one window", async () => {
    await fc.assert(
      fc.asyncProperty(
        workspaceArb,
        fc.array(sharedWindowRuleArb, { minLength: 5, maxLength: 5 }),
        expectBothPathsAgree,
      ),
      { numRuns: testBackend() === "postgres" ? 40 : 10 },
    );
  }, 600_000);
});
