"""The original experiment's function 2: boto3 in the default thread executor.

Each GetObjectAcl is handed to the event loop's default thread-pool executor
and all are awaited together with asyncio.gather. The loop lives at module
level and is reused by warm invocations, as asyncio.get_event_loop() did on
the original's Python 3.8; its default executor has min(32, cpus + 4)
threads and botocore's pool 10 connections (the defaults).
"""
import asyncio
import functools
import os

import boto3

s3 = boto3.client("s3")
BUCKET = os.environ["BUCKET_NAME"]
loop = asyncio.new_event_loop()


async def scan():
    listing = s3.list_objects_v2(Bucket=BUCKET)
    calls = [
        loop.run_in_executor(None, functools.partial(s3.get_object_acl, Bucket=BUCKET, Key=obj["Key"]))
        for obj in listing.get("Contents", [])
    ]
    acls = await asyncio.gather(*calls)
    return {"objects": len(acls)}


def handler(event, context):
    return loop.run_until_complete(scan())
