import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';
import { serve } from './app.js'; // your express app: routes and session options stay as they are

const redisClient = createClient({ url: process.env.REDIS_URL });
await redisClient.connect();
const store = new RedisStore({ client: redisClient, prefix: 'myapp:', ttl: 3600 });
serve(store);
