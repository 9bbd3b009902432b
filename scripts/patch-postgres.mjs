#!/usr/bin/env node
// Guards postgres.js 3.4.x against writing to a socket its close handler has
// already nulled. Unguarded, a Postgres restart under write load throws
// "Cannot read properties of null (reading 'write')" from a setImmediate
// callback, outside any promise, and the worker or API process dies
// (porsager/postgres issues 1066, 1154, 1208; guard PRs 1168, 1176, 1209 are
// unmerged, and 3.4.10 does not carry it). With the guard the pending queries
// reject with CONNECTION_CLOSED, which callers retry, and the pool reconnects
// (the second edit below is what makes a reconnected connection usable).
//
// Runs as the root package's postinstall, so `npm ci` applies it; `--check`
// only verifies. Either way it fails loudly when the driver's text no longer
// matches: then read the new release and drop or redo this patch.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const driver = path.join(root, "node_modules", "postgres");
const MARKER = "/* signaltag: null-socket guard */";
const RESERVED_MARKER = "/* signaltag: reserved-close guard */";
const CLOSED = "Errors.connection('CONNECTION_CLOSED', options)";

/** [original text, guarded text, occurrences expected] in each connection.js */
const CONNECTION_EDITS = [
  [
    "  function nextWrite(fn) {\n    const x = socket.write(chunk, fn)",
    [
      `  function nextWrite(fn) {`,
      `    if (!socket) { ${MARKER}`,
      `      const err = ${CLOSED}`,
      `      nextWriteTimer !== null && clearImmediate(nextWriteTimer)`,
      `      chunk = nextWriteTimer = null`,
      `      error(err)`,
      `      fn && fn(err)`,
      `      return false`,
      `    }`,
      `    const x = socket.write(chunk, fn)`,
    ].join("\n"),
    1,
  ],
  [
    "socket.write(b().d().raw(chunk).end(), callback)",
    `socket ? socket.write(b().d().raw(chunk).end(), callback) : callback(${CLOSED})`,
    2,
  ],
  [
    "socket.write(b().f().str(error + b.N).end())",
    "socket && socket.write(b().f().str(error + b.N).end())",
    2,
  ],
  // closed() cancelled the pending flush but kept its timer handle and bytes:
  // with a stale non-null handle, write() never schedules another flush, so
  // the reconnected socket's startup message sat unsent and every query on
  // that connection hung; the old bytes would also precede the startup message.
  [
    "    clearImmediate(nextWriteTimer)\n    socket.removeListener('data', data)",
    "    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n    socket.removeListener('data', data)",
    1,
  ],
  // A server that ends a session (a restart: "terminating connection due to
  // administrator command") sends that error before it closes; the close
  // fails the statement of the moment, but the error stayed behind and, at
  // the reconnected connection's first ReadyForQuery, failed whatever that
  // connection had been opened for (a transaction's reservation, a query) with
  // the old session's error. A closed connection forgets it.
  [
    "    incomings = null\n    clearImmediate(nextWriteTimer)\n",
    "    incomings = null\n    errorResponse = null\n    clearImmediate(nextWriteTimer)\n",
    1,
  ],
  // The array types a fresh connection fetches are read from a message
  // handler that drops the promise: a restart during that query rejected it
  // with nobody listening, and Node ends a process on an unhandled rejection.
  // The close itself already fails the connection's queries and reconnects.
  // A socket error (ECONNRESET) fails the queries of the moment; a statement
  // sent between that error and the close (the ROLLBACK after the failure)
  // was failed by nobody, because closed() skips queries after an error: it
  // hung for good. Failing them again is harmless: a settled promise ignores it.
  [
    "    !hadError && (query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket))",
    "    ;(query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket))",
    1,
  ],
  ["        return fetchArrayTypes()\n", "        return fetchArrayTypes().catch(() => {})\n", 1],
  // A reserve request that opened this connection is served from the pool's
  // queue (index.js keeps it there); without types to fetch it was dropped and
  // the connection stayed "connecting" for good.
  [
    "      initial && !initial.reserve && execute(initial)\n",
    "      initial && (initial.reserve ? onopen(connection) : execute(initial))\n",
    1,
  ],
  [
    "        socket.write(b().c().end())",
    `        if (!socket) return callback(${CLOSED})\n        socket.write(b().c().end())`,
    2,
  ],
];

/** [original text, guarded text, occurrences expected] in each index.js */
const INDEX_EDITS = [
  // A reserve request that failed while its connection was connecting (the
  // server refused it) was rejected but stayed queued; the next connection to
  // open was handed to it, resolved nothing, and was never seen again. Every
  // restart leaked a connection or two until reserve() waited forever.
  [
    "        const query = { reserve: resolve, reject }\n",
    [
      `        let settled = false ${MARKER}`,
      "        const query = {",
      "          reserve: c => settled ? onopen(c) : (settled = true, resolve(c)),",
      "          reject: e => settled || (settled = true, reject(e))",
      "        }",
      "",
    ].join("\n"),
    1,
  ],
  // A closed connection reconnects for the next queued request. A reserve
  // request taken off the queue that way was dropped once the new connection
  // had fetched its types (it is served from the queue, not as the
  // connection's first query): its caller waited forever. It stays queued, as
  // reserve() itself does; settled once (above), a second serving hands the
  // connection on.
  [
    "    queries.length && connect(c, queries.shift())\n",
    [
      "    if (queries.length) {",
      "      const next = queries.shift()",
      "      next.reserve && queries.push(next)",
      "      connect(c, next)",
      "    }",
      "",
    ].join("\n"),
    1,
  ],
  // After its connection closed, a reservation kept sending its statements
  // (a ROLLBACK, typically) to that connection, which by then was closed or
  // reconnecting for someone else: they hung, or went into another's session.
  [
    "    function handler(q) {\n      c.queue === full\n        ? queue.push(q)",
    [
      "    function handler(q) {",
      "      if (c.reserved !== reservation)",
      `        return q.reject(${CLOSED})`,
      "      c.queue === full",
      "        ? queue.push(q)",
    ].join("\n"),
    1,
  ],
  // A reservation queues its statements itself while its connection is busy
  // (a statement described first, as every one is on a fresh connection after
  // a reconnect, keeps it busy). When the connection closed, those queued
  // statements were neither sent nor failed: the caller (a transaction's
  // reads sent side by side) waited forever. They fail with the close now.
  [
    "    c.reserved.release = true\n",
    [
      "    c.reserved.release = true",
      `    c.onclose = () => { ${RESERVED_MARKER}`,
      "      while (queue.length)",
      `        queue.shift().reject(${CLOSED})`,
      "    }",
      "",
    ].join("\n"),
    1,
  ],
  // A way to give up a reserved connection that stopped answering (a statement
  // that never settles on a cut link): its pending statements fail, its
  // socket is ended, and the pool connects afresh in its place. Releasing it
  // instead would hand the dead connection to the next caller.
  [
    "    return sql\n\n    function handler(q) {\n",
    [
      "    sql.terminate = () => { /* signaltag: reserved terminate */",
      "      c.reserved === reservation && c.terminate()",
      "    }",
      "",
      "    return sql",
      "",
      "    function handler(q) {",
      "",
    ].join("\n"),
    1,
  ],
  // A reserved connection that closed meanwhile went back to the closed queue
  // (and may already serve someone else); releasing it put it among the open
  // ones with no socket, where every later query failed and it never
  // reconnected: after one restart the API answered 503 for good.
  [
    "    sql.release = () => {\n      c.reserved = null\n      onopen(c)\n    }",
    [
      "    const reservation = c.reserved",
      `    sql.release = () => { ${MARKER}`,
      "      if (c.reserved !== reservation) return",
      "      c.reserved = null",
      "      onopen(c)",
      "    }",
    ].join("\n"),
    1,
  ],
];

function count(text, part) {
  return text.split(part).length - 1;
}

function fail(message) {
  process.stderr.write(`patch-postgres: ${message}\n`);
  process.exit(1);
}

const checkOnly = process.argv.includes("--check");
if (!fs.existsSync(path.join(driver, "package.json"))) {
  // npm ci with --omit or a partial install: nothing to guard, nothing that could crash.
  process.exit(0);
}
const { version } = JSON.parse(fs.readFileSync(path.join(driver, "package.json"), "utf8"));
const dirs = ["src", "cjs/src", "cf/src"].filter((dir) =>
  fs.existsSync(path.join(driver, dir, "connection.js")),
);
if (dirs.length === 0) fail(`postgres ${version} has no connection.js where 3.4.x keeps it; redo the guard`);

for (const dir of dirs) {
  for (const [name, edits] of [
    ["connection.js", CONNECTION_EDITS],
    ["index.js", INDEX_EDITS],
  ]) {
    const file = path.join(driver, dir, name);
    const rel = path.relative(root, file);
    let text = fs.readFileSync(file, "utf8");
    let changed = 0;
    // Edit by edit, so a driver guarded by an earlier version of this script gets the edits added since.
    for (const [original, guarded, expected] of edits) {
      if (count(text, guarded) === expected) continue;
      if (checkOnly)
        fail(`${rel} (postgres ${version}) is not guarded; run \`node scripts/patch-postgres.mjs\``);
      const found = count(text, original);
      if (found !== expected) {
        fail(
          `${rel} (postgres ${version}) no longer matches the guard: expected ${expected}× ${JSON.stringify(original.trim().split("\n")[0])}, found ${found}. ` +
            "Check whether this release fixes the null-socket crash (porsager/postgres#1154) and update or drop scripts/patch-postgres.mjs",
        );
      }
      text = text.split(original).join(guarded);
      changed++;
    }
    if (changed === 0) continue;
    fs.writeFileSync(file, text);
    process.stdout.write(`patch-postgres: guarded ${rel} (postgres ${version}, ${changed} edits)\n`);
  }
}
