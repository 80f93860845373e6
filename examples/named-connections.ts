import { closeRedisConnections, configureRedis, createSessionStore, getRedis } from 'redisession';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
configureRedis({
  default: url, // getRedis(), and every store without a `redis` option
  sessions: `${url}/3`, // database 3 of the same server; ioredis options or a socket path work too
});

const store = createSessionStore({ redis: 'sessions', prefix: 'app:' });
await store.set('a-session-id', { userId: 7 });
console.log(getRedis('sessions') === store.redis); // true: one shared client per name, created on first use
try {
  getRedis('typo');
} catch (err) {
  console.log((err as Error).message); // unknown Redis connection "typo"; known connections: default, sessions (...)
}
await store.clear();
await closeRedisConnections(); // on shutdown: closes the shared clients the library created
