// Peer of the scale benchmark: Node.js with @aws-sdk/client-s3, the
// whole bucket listed page by page and GetObjectAcl sent in bounded
// Promise.all batches of WORKERS. Prints the number of ACLs fetched.
//
//   node node_batches.mjs BUCKET [WORKERS]
//
// The SDK is the one installed for the Lambda benchmark's Node peer
// (bench/lambda/node, same pinned version): loaded from there.
import { createRequire } from 'node:module';

const require = createRequire(new URL('../lambda/node/package.json', import.meta.url));
const { S3Client, ListObjectsV2Command, GetObjectAclCommand } = require('@aws-sdk/client-s3');
const { NodeHttpHandler } = require('@smithy/node-http-handler');
const https = require('node:https');
const http = require('node:http');

const [Bucket, workersArg] = process.argv.slice(2);
const workers = Number(workersArg || 64);
const endpoint = process.env.AWS_ENDPOINT_URL_S3;
const s3 = new S3Client({
  ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
  requestHandler: new NodeHttpHandler({
    httpAgent: new http.Agent({ keepAlive: true, maxSockets: workers }),
    httpsAgent: new https.Agent({ keepAlive: true, maxSockets: workers }),
  }),
});

let fetched = 0;
let ContinuationToken;
do {
  const page = await s3.send(new ListObjectsV2Command({ Bucket, ContinuationToken }));
  const keys = (page.Contents || []).map((o) => o.Key);
  for (let i = 0; i < keys.length; i += workers) {
    const batch = keys.slice(i, i + workers);
    await Promise.all(batch.map((Key) => s3.send(new GetObjectAclCommand({ Bucket, Key }))));
    fetched += batch.length;
  }
  ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
} while (ContinuationToken);
console.log(fetched);
