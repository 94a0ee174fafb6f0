#!/usr/bin/env python3
"""A fake SMS gateway for trying the peers by hand; benches/pipeline/ starts its own.

It is also the contract both peers are written against, the same as
channels/generic-json.toml's:

    POST /messages
    Authorization: Bearer <token>
    {"to": "+79161234567", "text": "...", "client_id": "<our message id>", "sender": "..."}
    -> 200 {"id": "<provider id>"}; the same client_id again returns the first id.
    -> 401 on a wrong token, 400 on a body that is not such an object.

GET /stats answers {"requests", "client_ids", "texts"}: texts is every
distinct message text seen (all recipients of the bench get the same one), so a run can
check that a peer rendered what Vestnik renders. Phones are never printed.

Plain asyncio on one thread, HTTP/1.1 keep-alive only: it must cost the 2-core machine
as little CPU as possible, or it would slow whichever peer it is measuring.

    python3 bench/peers/fake_gateway.py --port 8089 --token secret
"""

import argparse
import asyncio
import json
import sys
import uuid


class Gateway:
    def __init__(self, token: str):
        self.auth = f"Bearer {token}".encode()
        self.requests = 0
        self.ids: dict[str, str] = {}
        self.texts: set[str] = set()

    def handle(self, method: bytes, path: bytes, headers: dict, body: bytes):
        if method == b"GET" and path == b"/stats":
            return 200, {
                "requests": self.requests,
                "client_ids": len(self.ids),
                "texts": sorted(self.texts),
            }
        if method != b"POST" or path != b"/messages":
            return 404, {"error": "not found"}
        self.requests += 1
        if headers.get(b"authorization") != self.auth:
            return 401, {"error": "bad token"}
        try:
            msg = json.loads(body)
            to, text, client_id = msg["to"], msg["text"], msg["client_id"]
            if not all(isinstance(v, str) and v for v in (to, text, client_id, msg["sender"])):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return 400, {"error": "expected {to, text, client_id, sender} strings"}
        self.texts.add(text)
        provider_id = self.ids.setdefault(client_id, str(uuid.uuid4()))
        return 200, {"id": provider_id}


class Connection(asyncio.Protocol):
    def __init__(self, gateway: Gateway):
        self.gateway = gateway
        self.buf = b""

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buf += data
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            lines = self.buf[:head_end].split(b"\r\n")
            try:
                method, path, _ = lines[0].split(b" ", 2)
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(b":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get(b"content-length", b"0"))
            except ValueError:
                self.transport.close()
                return
            if len(self.buf) < head_end + 4 + length:
                return
            body = self.buf[head_end + 4 : head_end + 4 + length]
            self.buf = self.buf[head_end + 4 + length :]
            status, answer = self.gateway.handle(method, path, headers, body)
            payload = json.dumps(answer, ensure_ascii=False).encode()
            reason = {200: b"OK", 400: b"Bad Request", 401: b"Unauthorized"}.get(status, b"Not Found")
            self.transport.write(
                b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                % (status, reason, len(payload), payload)
            )


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token", required=True)
    args = parser.parse_args()
    gateway = Gateway(args.token)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Connection(gateway), args.host, args.port, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    # The address on stdout alone, so a script can read the port it got.
    print(f"http://{args.host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
