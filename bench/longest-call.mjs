// The longest single sweep script call on one 100k-field hashtable bucket, from Redis's SLOWLOG:
// `npm run build && node bench/longest-call.mjs [fields]`. Half the fields are expired.
import { randomBytes } from 'node:crypto';
import { encodeEnvelope } from '../dist/codec/envelope.js';
import { runSweep } from '../dist/index.js';
import { bucketKey } from '../dist/keys/buckets.js';
import { startRedis } from './lib/server.mjs';

const FIELDS = Number(process.argv[2] ?? 100_000);
const server = await startRedis(['--slowlog-log-slower-than', '0', '--slowlog-max-len', '100000']);
const { client } = server;
const prefix = Buffer.from('rs:');
const bucket = bucketKey(prefix, 0, 1);
const now = Date.now();
for (let i = 0; i < FIELDS; i += 5000) {
  const pipe = client.pipeline();
  for (let j = i; j < Math.min(i + 5000, FIELDS); j++) {
    const expiresAt = j % 2 ? now + 3_600_000 : now - 3_600_000;
    pipe.hset(
      bucket,
      randomBytes(25),
      encodeEnvelope({ serializer: 0, compressor: 0, expiresAt }, Buffer.from('{"user":1}')),
    );
  }
  await pipe.exec();
}
const encoding = await client.object('ENCODING', bucket);
await client.slowlog('RESET');
const result = await runSweep({ client, prefix, buckets: 1 }, { graceMs: 0 });
const entries = await client.slowlog('GET', 100_000);
const scripts = entries.filter((e) => /^eval/i.test(String(e[3][0])));
const longest = Math.max(...scripts.map((e) => Number(e[2])));
console.log(
  JSON.stringify({
    fields: FIELDS,
    encoding,
    deleted: result.deleted,
    scriptCalls: scripts.length,
    longestCallUs: longest,
    totalMs: result.durationMs,
  }),
);
await server.stop();
