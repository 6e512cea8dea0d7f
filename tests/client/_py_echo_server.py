"""Echo server for tests/client (a test peer, not a test): Python `websockets`
(10.4, Debian's python3-websockets; run it with /usr/bin/python3).

Binds 127.0.0.1 on a free port (or the port given as its argument), prints "PORT <n>" on stdout, then echoes every
message (text as text, binary as binary) until it is killed or its stdin is
closed (so that it never outlives the test process that started it).
"""

import asyncio
import os
import sys
import threading

import websockets


async def echo(ws, path=None):
    async for message in ws:
        await ws.send(message)


def exit_when_stdin_closes():
    try:
        sys.stdin.buffer.read()
    finally:
        os._exit(0)


async def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    async with websockets.serve(echo, "127.0.0.1", port, max_size=2**24) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"PORT {port}", flush=True)
        await asyncio.Future()


threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
asyncio.run(main())
