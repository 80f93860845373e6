import { createSessionStore } from 'redisession';

// REDIS_SENTINELS=10.0.0.5:26379,10.0.0.6:26379 and REDIS_SENTINEL_MASTER=mymaster, as the worker reads them
const sentinels = process.env.REDIS_SENTINELS!.split(',').map((address) => {
  const [host, port] = address.split(':');
  return { host, port: Number(port) };
});
const store = createSessionStore({ redis: { sentinels, name: process.env.REDIS_SENTINEL_MASTER! } });

await store.set('a-session-id', { userId: 7 });
console.log(await store.get('a-session-id'));
await store.clear();
await store.close();
