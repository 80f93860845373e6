import { createSessionStore } from 'redisession';

const store = createSessionStore({
  redis: {
    cluster: process.env.REDIS_CLUSTER_NODES!.split(','), // some nodes, 'host:port,...': ioredis finds the others
    options: { redisOptions: { password: process.env.REDIS_PASSWORD } }, // ioredis ClusterOptions
  },
});

await store.set('a-session-id', { userId: 7 });
console.log(await store.get('a-session-id'));
await store.clear();
await store.close();
