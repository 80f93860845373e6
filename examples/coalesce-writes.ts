import { Redis } from 'ioredis';
import { coalesceWrites, createSessionStore } from 'redisession';

const redis = coalesceWrites(new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')); // a Cluster too
const store = createSessionStore({ redis, prefix: 'app:' });

// 64 saves issued in one tick leave in one socket write
await Promise.all(Array.from({ length: 64 }, (_, i) => store.set(`session-${i}`, { n: i })));
console.log(await store.length());
await store.clear();
await redis.quit(); // a client you passed in is yours to close
