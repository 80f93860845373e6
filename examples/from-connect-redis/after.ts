import { RedisessionStore } from 'redisession/express';
import { serve } from './app.js'; // your express app: routes and session options stay as they are

const store = new RedisessionStore({
  client: process.env.REDIS_URL, // the URL you gave createClient (redisession talks through ioredis)
  prefix: 'rs:',
  ttl: 3600,
  legacy: { layout: 'connect-redis', prefix: 'myapp:' }, // where connect-redis kept them: nobody is logged out
});
serve(store);
