"""The original experiment's function 1: serial boto3.

One ListObjectsV2 call (first page only, as in the original), then
GetObjectAcl for each key, one after another. The client is created once,
outside the handler.
"""
import os

import boto3

s3 = boto3.client("s3")
BUCKET = os.environ["BUCKET_NAME"]


def handler(event, context):
    listing = s3.list_objects_v2(Bucket=BUCKET)
    acls = [s3.get_object_acl(Bucket=BUCKET, Key=obj["Key"]) for obj in listing.get("Contents", [])]
    return {"objects": len(acls)}
