// The session shapes of the benchmark, as express-session stores them (cookie first).
import { randomBytes } from 'node:crypto';

const DAY = 86_400_000;

function cookie(maxAge = DAY) {
  return { originalMaxAge: maxAge, expires: new Date(Date.now() + maxAge), secure: false, httpOnly: true, path: '/' };
}

/** (a) cookie + numeric user id + 32-char CSRF token: about 180 bytes of JSON. */
export function typical() {
  return {
    cookie: cookie(),
    userId: 100_000 + Math.floor(Math.random() * 900_000),
    csrfToken: randomBytes(16).toString('hex'),
  };
}

/**
 * What express-session does to a session on every request before it saves or touches it
 * (Session#touch -> resetMaxAge): the cookie's end becomes now + maxAge. Returns the session.
 */
export function expressTouch(session) {
  session.cookie.expires = new Date(Date.now() + session.cookie.originalMaxAge);
  return session;
}

/**
 * One request-path operation as the bench runs it, on a random one of `ids`: get; set of a typical
 * session; touch with the cookie's end reset first, as express-session does before every touch.
 */
export function requestOp(op, store, ids) {
  const session = typical();
  const pick = () => ids[Math.floor(Math.random() * ids.length)];
  if (op === 'get') return () => store.get(pick());
  if (op === 'set') return () => store.set(pick(), session);
  return () => store.touch(pick(), expressTouch(session));
}

function cart(targetBytes) {
  const items = [];
  let size = 0;
  while (size < targetBytes) {
    const item = {
      sku: `SKU-${Math.floor(Math.random() * 1e6)}`,
      title: ['Blue mug', 'Notebook A5', 'USB-C cable 2m', 'Desk lamp', 'Coffee beans 1kg'][items.length % 5],
      qty: 1 + (items.length % 3),
      price: Math.round(Math.random() * 10_000) / 100,
    };
    items.push(item);
    size += JSON.stringify(item).length + 1;
  }
  return items;
}

/** (b) a 2 KB session: a shopping cart. */
export function twoKb() {
  return { ...typical(), cart: cart(1850) };
}

/** (c) a 20 KB session. */
export function twentyKb() {
  return { ...typical(), cart: cart(19_800) };
}

export const SHAPES = { typical, '2KB': twoKb, '20KB': twentyKb };

export const newId = () => randomBytes(24).toString('base64url');
