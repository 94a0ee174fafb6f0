#!/usr/bin/env python3
"""Peer for benches/pipeline/: Vestnik's SMS workload on Procrastinate (see ../README.md).

One JSON line on stdout, diagnostics on stderr; phones are never logged.
"""

import argparse
import asyncio
import json
import logging
import math
import re
import sys
import time
from importlib.metadata import version

import aiohttp
import procrastinate
import psycopg_pool
import pybars
import pybars._compiler

MONTHS = ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
          "сентября", "октября", "ноября", "декабря"]


# The helpers give the text Vestnik's src/templates/helpers.rs gives.
def date_ru(_this, s):
    # `2026-12-15`, or an RFC 3339 date-time whose own (not UTC) calendar date counts.
    m = re.match(r"(\d{4})-(\d{2})-(\d{2})(?:$|T)", str(s))
    if not m:
        raise ValueError(f"date_ru: '{s}' is not a date")
    return f"{int(m[3])} {MONTHS[int(m[2]) - 1]} {int(m[1])} г."


def phone_ru(_this, s):
    m = re.fullmatch(r"\+7(\d{3})(\d{3})(\d{2})(\d{2})", str(s))
    return f"+7 ({m[1]}) {m[2]}-{m[3]}-{m[4]}" if m else str(s)


def redact_phones(record: logging.LogRecord) -> bool:
    record.msg, record.args = re.sub(r"\+\d{7,}", "+<phone>", record.getMessage()), ()
    return True


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--database-url", "--gateway", "--token", "--template", "--event"):
        p.add_argument(name, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--timeout-secs", type=float, default=600)
    # Jobs per batch_defer_async call; each call is one statement.
    p.add_argument("--batch-size", type=int, default=10_000)
    # Procrastinate workers sharing --concurrency: one worker fetches jobs one at a time, so
    # a single worker is bound by that loop's round trips (see ../README.md, "Tuning").
    p.add_argument("--workers", type=int, default=8)
    return p.parse_args()


async def bench(args):
    n, c = args.count, args.concurrency
    # pybars3 has no noEscape option; Vestnik's plain-text (SMS) registry does not escape.
    pybars._compiler.escape = lambda s: s
    with open(args.template, encoding="utf-8") as f:
        template = pybars.Compiler().compile(f.read())
    helpers = {"date_ru": date_ru, "phone_ru": phone_ru}
    with open(args.event, encoding="utf-8") as f:
        intent = json.load(f)
    org, event = intent["org"], intent["event"]

    # One pool for Procrastinate's workers and the task's INSERTs, like graphile-worker's:
    # a connection per running job, and a few for the workers' own fetches and heartbeats.
    # Autocommit: every statement here stands alone, so BEGIN/COMMIT round trips are waste.
    # (Set per connection: Procrastinate's LISTEN connection reuses the pool's kwargs and
    # sets autocommit itself.)
    async def configure(conn):
        await conn.set_autocommit(True)

    pool = psycopg_pool.AsyncConnectionPool(
        args.database_url, min_size=c + 8, max_size=c + 8, configure=configure, open=False
    )
    await pool.open(wait=True)
    app = procrastinate.App(connector=procrastinate.PsycopgConnector())

    done: list[float] = []
    all_done = asyncio.Event()
    t0 = 0.0
    url = args.gateway.rstrip("/") + "/messages"
    headers = {"Authorization": f"Bearer {args.token}"}
    # Keep-alive connections, at most one per concurrent job.
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=c))

    # Procrastinate does not retry unless asked; a gateway error is retried with back-off
    # and 25 attempts, as graphile-worker does by default.
    @app.task(name="send_sms", retry=procrastinate.RetryStrategy(max_attempts=25, exponential_wait=2))
    async def send_sms(id: str, account_number: str, phone: str):
        text = template(
            {"org": org, "event": event, "recipient": {"account_number": account_number}},
            helpers=helpers,
        ).strip()
        body = {"to": phone, "text": text, "client_id": id, "sender": "Vestnik"}
        async with http.post(url, json=body, headers=headers) as resp:
            if resp.status not in (200, 201):
                raise RuntimeError(f"gateway answered {resp.status}")
            # Whatever its content type: the harness's gateway need not label its JSON.
            provider_id = (await resp.json(content_type=None))["id"]
            if not isinstance(provider_id, str) or not provider_id:
                raise RuntimeError("gateway answer without an id")
        # A retried job whose row is already in finds it there: no second row, no error.
        async with pool.connection() as conn:
            cur = await conn.execute(
                "insert into peer_messages (id, provider_id, sent_at) values (%s, %s, now())"
                " on conflict (id) do nothing",
                (id, provider_id),
            )
        if cur.rowcount == 1:
            done.append(time.perf_counter() - t0)
            if len(done) == n:
                all_done.set()

    async with app.open_async(pool):
        await app.schema_manager.apply_schema_async()
        async with pool.connection() as conn:
            await conn.execute(
                "create table peer_messages"
                " (id text primary key, provider_id text not null, sent_at timestamptz not null)"
            )
        # The workers wait for jobs (LISTEN/NOTIFY) before the first is deferred. Succeeded
        # jobs are deleted, as graphile-worker does, to keep the queue table small.
        w = min(args.workers, c)
        workers = asyncio.gather(*(
            app.run_worker_async(
                name=f"worker-{k}",
                concurrency=c // w + (k < c % w),
                delete_jobs="successful",
                install_signal_handlers=False,
            )
            for k in range(w)
        ))
        t0 = time.perf_counter()
        for start in range(0, n, args.batch_size):
            await send_sms.batch_defer_async(*(
                {"id": f"msg-{i}", "account_number": f"77{i:08}", "phone": f"+7916{i % 10_000_000:07}"}
                for i in range(start, min(n, start + args.batch_size))
            ))
        enqueued = time.perf_counter()
        waiting = asyncio.create_task(all_done.wait())
        await asyncio.wait({waiting, workers}, return_when=asyncio.FIRST_COMPLETED)
        if not all_done.is_set():
            waiting.cancel()
            await workers  # raises what stopped them
            raise RuntimeError(f"the workers stopped after {len(done)} of {n} messages")
        end = t0 + done[-1]
        # Cancelling is the documented graceful stop: running jobs finish, then they return.
        workers.cancel()
        try:
            await workers
        except asyncio.CancelledError:
            pass
        async with pool.connection() as conn:
            cur = await conn.execute(
                "select (select count(*) from peer_messages),"
                " (select count(*) from procrastinate_jobs)"
            )
            rows, left = await cur.fetchone()
    await http.close()
    await pool.close()
    if rows != n or left != 0:
        raise RuntimeError(f"expected {n} rows and no jobs left, found {rows} and {left}")

    done.sort()
    seconds = end - t0
    pct = lambda p: done[min(n - 1, math.ceil(p * n) - 1)] * 1000
    return {
        "peer": "procrastinate",
        "version": version("procrastinate"),
        "messages": n,
        "enqueue_seconds": round(enqueued - t0, 3),
        "seconds": round(seconds, 3),
        "per_sec": round(n / seconds, 1),
        "p50_ms": round(pct(0.5), 1),
        "p99_ms": round(pct(0.99), 1),
        "concurrency": c,
        "workers": w,
    }


def main():
    args = parse_args()
    # Procrastinate logs every job at INFO; only problems go to stderr.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # A job that fails for good is logged with its arguments, the phone among them.
    logging.getLogger().handlers[0].addFilter(redact_phones)
    # It warns that the App lives in __main__, which matters only to its CLI (unused here).
    logging.getLogger("procrastinate.blueprints").setLevel(logging.ERROR)
    try:
        result = asyncio.run(asyncio.wait_for(bench(args), args.timeout_secs))
    except TimeoutError:
        sys.exit(f"procrastinate peer: not done after {args.timeout_secs:g} s")
    except Exception as e:  # noqa: BLE001 - one line for the harness, the trace on stderr
        logging.exception("procrastinate peer failed")
        sys.exit(f"procrastinate peer: {e}")
    print(json.dumps(result, separators=(",", ":")), flush=True)


if __name__ == "__main__":
    main()
