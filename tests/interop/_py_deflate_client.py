"""A Python `websockets` client for tests/interop/deflate_test.ts (a test peer,
not a test; run it with /usr/bin/python3).

Connects to argv[1] offering permessage-deflate (websockets' default), sends
the messages of the JSON list on stdin ({"text": ...} or {"hex": ...}), waits
for each echo, and prints one JSON line: the agreed extensions and the echoes.
"""

import asyncio
import json
import sys

import websockets


async def main():
    messages = json.loads(sys.stdin.read())
    async with websockets.connect(sys.argv[1], max_size=2**24) as ws:
        echoes = []
        for m in messages:
            await ws.send(m["text"] if "text" in m else bytes.fromhex(m["hex"]))
            answer = await ws.recv()
            echoes.append({"text": answer} if isinstance(answer, str) else {"hex": answer.hex()})
        print(json.dumps({
            "extensions": ws.response_headers.get("Sec-WebSocket-Extensions", ""),
            "echoes": echoes,
        }), flush=True)


asyncio.run(asyncio.wait_for(main(), 20))
