import type { FastifyInstance } from "fastify";
import type { ApiDeps } from "../deps.ts";
import { errorResponses } from "../schemas.ts";

/** Who the key is: the console shows the controls its role allows (the routes enforce it regardless). */
export function registerMeRoutes(app: FastifyInstance, _deps: ApiDeps): void {
  app.get(
    "/v1/me",
    {
      config: { role: "viewer" },
      schema: {
        operationId: "getMe",
        summary: "The key's name and role",
        tags: ["keys"],
        security: [{ bearer: [] }],
        response: {
          200: {
            type: "object",
            properties: {
              name: { type: "string" },
              role: { type: "string", description: "viewer, editor or admin" },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => ({ name: request.apiKey!.name, role: request.apiKey!.role }),
  );
}
