"""A Python `websockets` client for the at-size test in
tests/interop/deflate_test.ts (a test peer, not a test; run it with
/usr/bin/python3).

    _py_at_size_client.py URL COUNT

Connects to URL offering permessage-deflate (websockets' default offer, context
takeover both ways), sends COUNT messages of 16 KiB (every 100th 64 KiB, the
middle one 1 MiB; slices of a slowly varying "bitmap", every 10th as text)
while a second task reads the echoes, checks each echo byte for byte and kind
for kind, then closes with 1000. Prints one JSON line: the agreed extensions,
the number of echoes checked, the bytes sent and the first mismatch (or null).
Exits 1 on a mismatch.
"""

import asyncio
import json
import sys

import websockets


def bitmap(size, seed=7):
    """Slowly varying bytes (a bitmap's), as the Autobahn 12.x cases send."""
    out = bytearray(size)
    v = 0
    for i in range(size):
        seed = (seed * 1103515245 + 12345) & 0xFFFFFFFF
        if (seed >> 16) % 3 == 0:
            v = (v + (seed >> 8) % 9 - 4) & 0xFF
        out[i] = v
    return bytes(out)


def messages(count):
    image = bitmap(2 * 1024 * 1024)
    at = 0
    for k in range(count):
        size = 1024 * 1024 if k == count // 2 else 64 * 1024 if k % 100 == 0 else 16 * 1024
        if at + size > len(image):
            at = 0
        chunk = image[at:at + size]
        at += size
        # text: the same bytes as printable ASCII (still slowly varying)
        yield chunk.translate(bytes(32 + b % 95 for b in range(256))).decode() if k % 10 == 3 else chunk


async def main(url, count):
    async with websockets.connect(url, max_size=2**24) as ws:
        sent = asyncio.Queue()
        total = 0

        async def send():
            nonlocal total
            for m in messages(count):
                await sent.put(m)
                await ws.send(m)
                total += len(m)

        async def receive():
            for k in range(count):
                echo = await ws.recv()
                expected = await sent.get()
                if type(echo) is not type(expected) or echo != expected:
                    return {"index": k, "sent": f"{type(expected).__name__}({len(expected)})",
                            "received": f"{type(echo).__name__}({len(echo)})"}
            return None

        sender = asyncio.create_task(send())
        mismatch = await receive()
        if mismatch is None:
            await sender
        else:
            sender.cancel()
        await ws.close(1000, "done")
        print(json.dumps({
            "extensions": ws.response_headers.get("Sec-WebSocket-Extensions", ""),
            "echoes": count if mismatch is None else mismatch["index"],
            "bytes": total,
            "mismatch": mismatch,
        }), flush=True)
        return mismatch is None


sys.exit(0 if asyncio.run(main(sys.argv[1], int(sys.argv[2]))) else 1)
