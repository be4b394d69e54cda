// A minimal AWS Lambda custom runtime for Node.js: the Runtime API loop.
// (aws-lambda-ric needs cmake and a long native build; this loop is all
// the benchmark needs to run the function under the Runtime Interface Emulator.)
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const agent = new http.Agent({ keepAlive: true });
const base = '/2018-06-01/runtime';

function request(method, urlPath, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path: base + urlPath, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (body !== undefined) req.end(JSON.stringify(body)); else req.end();
  });
}

const [file, fn] = process.env._HANDLER.split('.');
const mod = await import(pathToFileURL(path.join(process.env.LAMBDA_TASK_ROOT || path.dirname(new URL(import.meta.url).pathname), file + '.mjs')));
const handler = mod[fn];

for (;;) {
  const next = await request('GET', '/invocation/next');
  const id = next.headers['lambda-runtime-aws-request-id'];
  try {
    const result = await handler(JSON.parse(next.body || '{}'), {});
    await request('POST', `/invocation/${id}/response`, result);
  } catch (err) {
    console.error(err);
    await request('POST', `/invocation/${id}/error`, { errorMessage: String(err), errorType: err.name });
  }
}
