import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply } from "fastify";
import type { ApiDeps } from "../deps.ts";

/** Where `vite build` writes the console (web/vite.config.ts); npm's prepare script builds it at install. */
export const CONSOLE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../web/dist");

const types: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".woff2": "font/woff2",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json; charset=utf-8",
};

const notBuilt = `<!doctype html><html lang="en"><meta charset="utf-8"><title>signaltag</title>
<body style="font-family:system-ui;max-width:40rem;margin:3rem auto"><h1>The console is not built</h1>
<p>This checkout has no <code>web/dist</code>. <code>npm ci</code> builds it (the <code>prepare</code> script);
after <code>npm ci --ignore-scripts</code> run <code>npm run build:web</code>, then reload.</p>
<p>The JSON API works regardless: see <a href="/docs">/docs</a>.</p></body></html>`;

/**
 * The web console: index.html at `/` and the hashed assets vite writes. Its
 * pages are routed in the browser (#/...), so no other path needs serving.
 * Assets carry a content hash in their name and are cached for good; the page
 * itself is revalidated so a rebuilt console is picked up.
 */
export function registerConsoleRoutes(app: FastifyInstance, _deps: ApiDeps, dir = CONSOLE_DIR): void {
  const send = async (reply: FastifyReply, file: string, cache: string) => {
    let body: Buffer;
    try {
      body = await fs.readFile(path.join(dir, file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      if (file === "index.html") return reply.status(503).type("text/html; charset=utf-8").send(notBuilt);
      return reply.status(404).type("text/plain; charset=utf-8").send(`no console asset ${file}`);
    }
    return reply
      .type(types[path.extname(file)] ?? "application/octet-stream")
      .header("cache-control", cache)
      .header("x-content-type-options", "nosniff")
      .send(body);
  };
  // The console loads nothing but its own files and API: the policy makes that a promise the browser keeps.
  const page = (_req: unknown, reply: FastifyReply) =>
    send(
      reply.header(
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
      ),
      "index.html",
      "no-cache",
    );
  app.get("/", { schema: { hide: true } }, page);
  app.get("/index.html", { schema: { hide: true } }, page);
  app.get<{ Params: { file: string } }>(
    "/assets/:file",
    { schema: { hide: true } },
    async (request, reply) => {
      const file = request.params.file;
      // Only plain file names: nothing can climb out of the assets folder.
      if (!/^[\w.-]+$/.test(file) || file.startsWith(".")) {
        return reply.status(404).type("text/plain; charset=utf-8").send("no such asset");
      }
      return send(reply, `assets/${file}`, "public, max-age=31536000, immutable");
    },
  );
}
