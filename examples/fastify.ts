import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import Fastify from 'fastify';
import { RedisessionStore } from 'redisession/fastify';

declare module 'fastify' {
  interface Session {
    views?: number;
  }
}

const app = Fastify();
await app.register(fastifyCookie);
await app.register(fastifySession, {
  store: new RedisessionStore({ redis: process.env.REDIS_URL, prefix: 'myapp:' }),
  secret: process.env.SESSION_SECRET!, // at least 32 characters
  cookie: { secure: 'auto', maxAge: 86_400_000 },
});

app.get('/', async (req) => {
  req.session.views = (req.session.views ?? 0) + 1;
  return { views: req.session.views };
});

const port = Number(process.env.PORT ?? 3000);
await app.listen({ port, host: '127.0.0.1' });
console.log(`listening on http://127.0.0.1:${port}`);
