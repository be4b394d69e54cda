// The approach the original author missed: Node.js with the AWS SDK v3 and
// Promise.all. One ListObjectsV2 (first page, as the original functions),
// then every GetObjectAcl at once. The client is created once, outside the handler.
import { S3Client, ListObjectsV2Command, GetObjectAclCommand } from '@aws-sdk/client-s3';

const endpoint = process.env.AWS_ENDPOINT_URL_S3;
const s3 = new S3Client(endpoint ? { endpoint, forcePathStyle: true } : {});
const Bucket = process.env.BUCKET_NAME;

export const handler = async () => {
  const listing = await s3.send(new ListObjectsV2Command({ Bucket }));
  const acls = await Promise.all(
    (listing.Contents || []).map((o) => s3.send(new GetObjectAclCommand({ Bucket, Key: o.Key }))),
  );
  return { objects: acls.length };
};
