#!/usr/bin/env node
// Peer for benches/pipeline/: Vestnik's SMS workload on graphile-worker (see ../README.md).
// One JSON line on stdout, diagnostics on stderr; phones are never logged.
import { readFileSync } from "node:fs";
import http from "node:http";
import { parseArgs } from "node:util";
import { createRequire } from "node:module";
import Handlebars from "handlebars";
import pg from "pg";
import { Logger, run } from "graphile-worker";

const { values: opt } = parseArgs({
  options: {
    "database-url": { type: "string" },
    gateway: { type: "string" },
    token: { type: "string" },
    count: { type: "string" },
    concurrency: { type: "string", default: "8" },
    template: { type: "string" },
    event: { type: "string" },
    "timeout-secs": { type: "string", default: "600" },
    // Jobs per add_jobs call; each call is one transaction.
    "batch-size": { type: "string", default: "10000" },
  },
});
for (const k of ["database-url", "gateway", "token", "count", "template", "event"]) {
  if (!opt[k]) fail(`--${k} is required`);
}
const N = +opt.count;
const C = +opt.concurrency;
const BATCH = +opt["batch-size"];
const VERSION = createRequire(import.meta.url)("graphile-worker/package.json").version;

function fail(why) {
  process.stderr.write(`graphile peer: ${why}\n`);
  process.exit(1);
}
const timeout = setTimeout(() => fail(`not done after ${opt["timeout-secs"]} s`), opt["timeout-secs"] * 1000);

// The helpers give the text Vestnik's src/templates/helpers.rs gives.
const MONTHS = ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
  "сентября", "октября", "ноября", "декабря"];
function dateRu(s) {
  // `2026-12-15`, or an RFC 3339 date-time whose own (not UTC) calendar date counts.
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:$|T)/.exec(String(s));
  if (!m) throw new Error(`date_ru: '${s}' is not a date`);
  return `${+m[3]} ${MONTHS[m[2] - 1]} ${+m[1]} г.`;
}
function phoneRu(s) {
  const m = /^\+7(\d{3})(\d{3})(\d{2})(\d{2})$/.exec(String(s));
  return m ? `+7 (${m[1]}) ${m[2]}-${m[3]}-${m[4]}` : String(s);
}
const hb = Handlebars.create();
hb.registerHelper("date_ru", dateRu);
hb.registerHelper("phone_ru", phoneRu);
// Strict and unescaped like Vestnik's plain-text registry; compiled once, as a user would.
const render = hb.compile(readFileSync(opt.template, "utf8"), { strict: true, noEscape: true });
const { org, event } = JSON.parse(readFileSync(opt.event, "utf8"));

// Keep-alive sockets, at most one per concurrent job.
const agent = new http.Agent({ keepAlive: true, maxSockets: C });
const target = new URL("/messages", opt.gateway);
function post(body) {
  return new Promise((resolve, reject) => {
    const req = http.request(target, {
      method: "POST",
      agent,
      headers: {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
        authorization: `Bearer ${opt.token}`,
      },
    }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        if (res.statusCode !== 200 && res.statusCode !== 201) {
          return reject(new Error(`gateway answered ${res.statusCode}`));
        }
        try {
          const id = JSON.parse(text).id;
          if (typeof id !== "string" || !id) throw new Error("no id");
          resolve(id);
        } catch (e) {
          reject(new Error(`gateway answer without an id: ${e.message}`));
        }
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

// One pool for the worker and the task's INSERTs: graphile-worker warns below concurrency;
// the extra connections are for its LISTEN client and the enqueueing.
const pool = new pg.Pool({ connectionString: opt["database-url"], max: C + 4 });
// graphile-worker's default logger prints to stdout and logs every job at info level.
const logger = new Logger(() => (level, message) => {
  if (level === "error" || level === "warning") process.stderr.write(`graphile-worker ${level}: ${message}\n`);
});

const done = [];
let t0 = 0;
let finish;
const allDone = new Promise((resolve) => (finish = resolve));

const taskList = {
  async send_sms(payload, helpers) {
    const text = render({ org, event, recipient: { account_number: payload.account_number } }).trim();
    const providerId = await post(JSON.stringify({
      to: payload.phone, text, client_id: payload.id, sender: "Vestnik",
    }));
    // A retried job whose row is already in finds it there: no second row, no error.
    const { rowCount } = await helpers.query(
      "insert into peer_messages (id, provider_id, sent_at) values ($1, $2, now()) on conflict (id) do nothing",
      [payload.id, providerId],
    );
    if (rowCount === 1) {
      done.push(performance.now() - t0);
      if (done.length === N) finish(performance.now());
    }
  },
};

await pool.query(
  "create table if not exists peer_messages (id text primary key, provider_id text not null, sent_at timestamptz not null)",
);
// run() migrates graphile-worker's schema, then the pool waits for jobs (LISTEN/NOTIFY).
const runner = await run({ pgPool: pool, concurrency: C, taskList, logger, noHandleSignals: true });

t0 = performance.now();
for (let start = 0; start < N; start += BATCH) {
  const specs = [];
  for (let i = start; i < Math.min(N, start + BATCH); i++) {
    specs.push({
      identifier: "send_sms",
      payload: {
        id: `msg-${i}`,
        account_number: `77${String(i).padStart(8, "0")}`,
        phone: `+7916${String(i % 10_000_000).padStart(7, "0")}`,
      },
    });
  }
  // add_jobs is graphile-worker's bulk insert (one statement, one NOTIFY per call).
  await pool.query(
    "select count(*) from graphile_worker.add_jobs(array(select json_populate_recordset(null::graphile_worker.job_spec, $1::json)))",
    [JSON.stringify(specs)],
  );
}
const enqueued = performance.now();
const end = await allDone;
// Completion of the last jobs is still the tool's bookkeeping; wait for it outside the clock.
await runner.stop();
const { rows: [check] } = await pool.query(
  "select (select count(*) from peer_messages)::int as rows, (select count(*) from graphile_worker.jobs)::int as left",
);
await pool.end();
agent.destroy();
clearTimeout(timeout);
if (check.rows !== N || check.left !== 0) fail(`expected ${N} rows and no jobs left, found ${check.rows} and ${check.left}`);

done.sort((a, b) => a - b);
const pct = (p) => done[Math.min(N - 1, Math.ceil(p * N) - 1)];
const seconds = (end - t0) / 1000;
const round = (x, d = 3) => Number(x.toFixed(d));
console.log(JSON.stringify({
  peer: "graphile-worker",
  version: VERSION,
  messages: N,
  enqueue_seconds: round((enqueued - t0) / 1000),
  seconds: round(seconds),
  per_sec: round(N / seconds, 1),
  p50_ms: round(pct(0.5), 1),
  p99_ms: round(pct(0.99), 1),
  concurrency: C,
}));
