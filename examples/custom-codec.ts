import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { createSessionStore } from 'redisession';

const store = createSessionStore({
  redis: process.env.REDIS_URL,
  prefix: 'app:',
  compression: { id: 8, compress: deflateRawSync, decompress: inflateRawSync }, // id 8..14: free in the header
});

const cart = { items: Array.from({ length: 40 }, (_, i) => ({ sku: `SKU-${1000 + i}`, qty: 1 + (i % 3) })) };
await store.set('a-session-id', { cart }); // over compressMinLength (400 bytes): compressed with deflate
console.log(JSON.stringify((await store.get('a-session-id'))?.cart) === JSON.stringify(cart));
await store.clear();
await store.close();
