import express from 'express';
import session from 'express-session';
import { RedisessionStore } from 'redisession/express';

declare module 'express-session' {
  interface SessionData {
    views: number;
  }
}

const app = express();
app.use(
  session({
    store: new RedisessionStore({ redis: process.env.REDIS_URL, prefix: 'myapp:' }), // unset: 127.0.0.1:6379
    secret: process.env.SESSION_SECRET!,
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: 7 * 24 * 3600 * 1000 },
  }),
);

app.get('/', (req, res) => {
  req.session.views = (req.session.views ?? 0) + 1;
  res.json({ views: req.session.views });
});

const port = Number(process.env.PORT ?? 3000);
app.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}`));
