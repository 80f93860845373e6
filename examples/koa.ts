import Koa from 'koa';
import session from 'koa-session';
import { koaStore } from 'redisession/koa';

const app = new Koa();
app.keys = [process.env.SESSION_SECRET!];
app.use(session({ store: koaStore({ redis: process.env.REDIS_URL, prefix: 'myapp:' }), maxAge: 86_400_000 }, app));

app.use((ctx) => {
  const s = ctx.session!;
  s.views = (s.views ?? 0) + 1;
  ctx.body = { views: s.views };
});

const port = Number(process.env.PORT ?? 3000);
app.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}`));
