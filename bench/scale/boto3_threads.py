"""Peer of the scale benchmark: boto3 with a thread pool, the usual way to
scan object ACLs in Python. Lists the whole bucket with the paginator and
submits every GetObjectAcl to a ThreadPoolExecutor of WORKERS threads,
with as many pooled connections. Prints the number of ACLs fetched.

    python3 boto3_threads.py BUCKET [WORKERS]
"""
import concurrent.futures as cf
import os
import sys

import boto3
import botocore.config

bucket = sys.argv[1]
workers = int(sys.argv[2]) if len(sys.argv) > 2 else 64
s3 = boto3.client(
    "s3",
    endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3"),
    config=botocore.config.Config(max_pool_connections=workers, s3={"addressing_style": "path"}),
)


def fetch(key):
    s3.get_object_acl(Bucket=bucket, Key=key)
    return 1


with cf.ThreadPoolExecutor(workers) as pool:
    futures = [
        pool.submit(fetch, obj["Key"])
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for obj in page.get("Contents", [])
    ]
    print(sum(f.result() for f in futures))
