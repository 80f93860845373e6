import express from 'express';
import session from 'express-session';
import { RedisessionStore } from 'redisession/express';

declare module 'express-session' {
  interface SessionData {
    userId: string;
  }
}

// #region store
const store = new RedisessionStore({
  redis: process.env.REDIS_URL,
  prefix: 'myapp:',
  userId: (s) => s.userId as string | undefined, // the owner, or undefined when nobody is logged in
});
// #endregion store
const app = express();
app.use(session({ store, secret: process.env.SESSION_SECRET!, resave: false, saveUninitialized: false }));

app.post('/login/:user', (req, res) => {
  req.session.userId = req.params.user; // stands in for your real login (passport, ...)
  res.json({ user: req.session.userId });
});
app.get('/me', (req, res) => {
  res.json({ user: req.session.userId ?? null });
});

// #region routes
app.post('/logout-everywhere', async (req, res) => {
  if (!req.session.userId) return void res.status(401).end();
  const ended = await store.destroyUser(req.session.userId); // every device of this user is logged out
  res.json({ ended });
});
app.get('/devices', async (req, res) => {
  if (!req.session.userId) return void res.status(401).end();
  res.json(await store.sessionsOf(req.session.userId));
  // [{ id: 'x3…', key: '03c5…', createdAt: 1764100000000, expiresAt: 1764186400000 }, ...]
});
// #endregion routes

const port = Number(process.env.PORT ?? 3000);
app.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}`));
