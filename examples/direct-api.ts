import { randomBytes } from 'node:crypto';
import { createSessionStore } from 'redisession';

// #region methods
const store = createSessionStore({ redis: process.env.REDIS_URL, mode: 'hash', prefix: 'app:' });
const sid = randomBytes(24).toString('base64url'); // an id as express-session makes them
const inAnHour = () => new Date(Date.now() + 3600_000);

await store.set(sid, { cookie: { expires: inAnHour() }, userId: 7 });
console.log(await store.get(sid)); // the session, or null (missing, expired, unreadable, or a refused id)
await store.touch(sid, { cookie: { expires: inAnHour() }, userId: 7 }); // extend a session that still exists
console.log(await store.length()); // live sessions under the prefix (walks it with SCAN: admin use)
console.log(await store.ids()); // their ids (admin use, as length)
console.log(await store.all()); // the sessions, each with its id: [{ id, cookie, ... }, ...] (admin use)
for await (const [id, session] of store.entries()) console.log(id, session); // the same, a page at a time
await store.destroy(sid); // log out: a late save of this id is dropped
console.log(await store.get(sid)); // null
await store.clear(); // delete this store's sessions, and nothing else
await store.close(); // disconnect, if the store created the client itself
// #endregion methods
