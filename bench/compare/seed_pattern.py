#!/usr/bin/env python3
"""The seed article's pattern, as its readers would run it.

asyncio.gather over loop.run_in_executor(executor, blocking_call, item), with
only the standard library: urllib instead of requests (http mode), and an
unsigned urllib POST to the Lambda Invoke API instead of boto3 (lambda mode;
boto3 is not installed here). --workers 0 uses the event loop's default
executor, as the article does; --workers N a ThreadPoolExecutor(N).

  seed_pattern.py http   --workers N FILE            prints "STATUS URL" lines
  seed_pattern.py lambda --workers N --endpoint URL --function NAME FILE
                                                     prints "STATUS INDEX" lines

Like the article, it builds every coroutine up front and gathers them all, so
its memory grows with the input.
"""

import argparse
import asyncio
import concurrent.futures
import functools
import sys
import urllib.error
import urllib.request


def status_of(request, timeout):
    """The status code of one blocking call; 0 when no response came."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return 0


def blocking_get(url):
    return status_of(url, 30)


def blocking_invoke(endpoint, function, payload):
    req = urllib.request.Request(
        endpoint + "/2015-03-31/functions/" + function + "/invocations",
        data=payload,
        method="POST",
        headers={"X-Amz-Invocation-Type": "RequestResponse"},
    )
    return status_of(req, 60)


async def run(args, items):
    loop = asyncio.get_running_loop()
    executor = None
    if args.workers > 0:
        executor = concurrent.futures.ThreadPoolExecutor(max_workers=args.workers)
        loop.set_default_executor(executor)
    if args.mode == "http":
        call = blocking_get
    else:
        call = functools.partial(blocking_invoke, args.endpoint, args.function)
    awaitables = [loop.run_in_executor(None, call, item) for item in items]
    return await asyncio.gather(*awaitables)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["http", "lambda"])
    parser.add_argument("file")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--endpoint", default="")
    parser.add_argument("--function", default="function")
    args = parser.parse_args()
    with open(args.file, "rb") as f:
        lines = [line.strip() for line in f]
    lines = [line for line in lines if line and not line.startswith(b"#")]
    if args.mode == "http":
        items = [line.decode() for line in lines]
    else:
        items = lines
    statuses = asyncio.run(run(args, items))
    out = sys.stdout
    for i, (item, status) in enumerate(zip(items, statuses)):
        key = item if args.mode == "http" else str(i)
        out.write("%d %s\n" % (status, key))
    out.flush()


if __name__ == "__main__":
    main()
