import express from 'express';
import session from 'express-session';

declare module 'express-session' {
  interface SessionData {
    user: string;
  }
}

/** The app both stores serve: everything but the store stays as it was. */
export function serve(store: session.Store): void {
  const app = express();
  app.use(session({ store, secret: process.env.SESSION_SECRET!, resave: false, saveUninitialized: false }));
  app.post('/login/:user', (req, res) => {
    req.session.user = req.params.user;
    res.json({ user: req.session.user });
  });
  app.get('/me', (req, res) => {
    res.json({ user: req.session.user ?? null });
  });
  const port = Number(process.env.PORT ?? 3000);
  app.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}`));
}
