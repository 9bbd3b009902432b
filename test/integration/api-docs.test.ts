import SwaggerParser from "@apidevtools/swagger-parser";
import { beforeAll, describe, expect, it } from "vitest";
import { useApi } from "../helpers/api.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";

interface Response {
  description?: string;
  content?: Record<string, { schema?: { $ref?: string } }>;
}

interface Operation {
  operationId?: string;
  summary?: string;
  security?: unknown[];
  parameters?: { in: string; name: string }[];
  responses?: Record<string, Response>;
}

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];

describe.skipIf(backendUnavailable())("the OpenAPI document at /docs/json", () => {
  const t = useTestDatabase();
  const api = useApi(t);
  let doc: { paths: Record<string, Record<string, Operation>>; components?: unknown };
  const operations: { name: string; op: Operation }[] = [];

  beforeAll(async () => {
    const res = await api.call(undefined, { method: "GET", url: "/docs/json" });
    expect(res.statusCode).toBe(200);
    doc = res.json();
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of METHODS) {
        const op = item[method];
        if (op) operations.push({ name: `${method.toUpperCase()} ${path}`, op });
      }
    }
  });

  it("passes swagger-parser's validation", async () => {
    // validate() dereferences in place: give it a copy.
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeTruthy();
  });

  it("documents the API's routes", () => {
    expect(operations.map((o) => o.name)).toEqual(
      expect.arrayContaining([
        "GET /health",
        "GET /v1/tags",
        "GET /v1/users/{id}",
        "POST /v1/accounts/{id}/tags",
        "POST /v1/tags/bulk",
        "GET /v1/segments/users",
        "POST /v1/runs",
      ]),
    );
  });

  it("gives every operation a unique operationId and a summary", () => {
    const missing = operations.filter(({ op }) => !op.operationId || !op.summary?.trim());
    expect(missing.map((o) => o.name)).toEqual([]);
    const ids = operations.map(({ op }) => op.operationId);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
  });

  it("gives every operation a success response and an error response", () => {
    const lacking = operations
      .filter(({ op }) => {
        const codes = Object.keys(op.responses ?? {});
        return !codes.some((c) => c.startsWith("2")) || !codes.some((c) => c.startsWith("4"));
      })
      .map((o) => `${o.name}: ${Object.keys(o.op.responses ?? {}).join(",")}`);
    expect(lacking).toEqual([]);
  });

  it("describes every error response with the shared error schema", () => {
    const wrong: string[] = [];
    for (const { name, op } of operations) {
      for (const [code, response] of Object.entries(op.responses ?? {})) {
        if (!/^[45]/.test(code) || (name === "GET /health" && code === "503")) continue;
        const schema = response.content?.["application/json"]?.schema;
        if (schema?.$ref !== "#/components/schemas/error") wrong.push(`${name} ${code}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("says which operations need a key, and those answer 401 and 403", () => {
    const wrong: string[] = [];
    for (const { name, op } of operations) {
      const keyed = (op.security ?? []).length > 0;
      const codes = Object.keys(op.responses ?? {});
      if (keyed !== codes.includes("401") || keyed !== codes.includes("403")) wrong.push(name);
    }
    expect(wrong).toEqual([]);
    expect(operations.filter(({ op }) => (op.security ?? []).length > 0).length).toBeGreaterThan(0);
  });

  it("lists as query parameters only the fields a route accepts", async () => {
    // A query schema's own keywords once leaked into the document as parameters.
    const leaked = operations.filter(({ op }) =>
      (op.parameters ?? []).some(
        (p) => p.in === "query" && ["type", "additionalProperties"].includes(p.name),
      ),
    );
    expect(leaked.map((o) => o.name)).toEqual([]);
    const health = await api.call(undefined, { method: "GET", url: "/health?type=object" });
    expect(health.statusCode).toBe(400);
  });
});
