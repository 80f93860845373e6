import { randomBytes } from 'node:crypto';
import { setImmediate as tick } from 'node:timers/promises';
import fc from 'fast-check';
import type { Cluster, Redis } from 'ioredis';
import type { SessionStore } from 'redisession';
import { intercept, type Unit } from './interleave.js';

/*
 * A model check of what a user may observe of log-outs. Random scenarios (fast-check) of several
 * clients, each a store on a connection of its own running a few operations one after another:
 * set, touch (with a fresh or a stale copy, a later, earlier or expired cookie), destroy,
 * destroyUser, sessionsOf, get (which moves legacy copies over) and sweeps. Every Redis command
 * (or pipeline) of the clients waits for a seeded scheduler, which sends one at a time, picked at
 * random among those waiting, and lets the next go only once Redis answered: each run is one
 * random interleaving of the operations' commands, reproducible from its seed. The history
 * (logical start and end of every operation, and what it returned) is then checked against the
 * oracle in `violations`, and the quiescent state at the end against the index.
 */

export type OpSpec =
  | { kind: 'set'; id: number; owner: number | null; expired: boolean }
  | { kind: 'touch'; id: number; stale: boolean; cookie: 'later' | 'earlier' | 'expired' }
  | { kind: 'destroy'; id: number }
  | { kind: 'destroyUser'; user: number }
  | { kind: 'sessionsOf'; user: number }
  | { kind: 'get'; id: number }
  | { kind: 'sweep' };

export interface Scenario {
  /** Per id: what is stored before the run (an owner index, or null for no owner). */
  initial: Array<{ at: 'new' | 'legacy' | 'none'; owner: number | null }>;
  /** Operations per client, run one after another. */
  clients: OpSpec[][];
  /** Seed of the scheduler's choices. */
  seed: number;
}

const IDS = 3;
const USERS = 2;

export function scenarios(withLegacy: boolean): fc.Arbitrary<Scenario> {
  const id = fc.integer({ min: 0, max: IDS - 1 });
  const user = fc.integer({ min: 0, max: USERS - 1 });
  const owner = fc.option(user, { nil: null, freq: 4 });
  const op: fc.Arbitrary<OpSpec> = fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constant('set' as const),
        id,
        owner,
        expired: fc.boolean().map((b) => b && Math.random() < 0.3),
      }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('touch' as const),
        id,
        stale: fc.boolean(),
        cookie: fc.constantFrom('later' as const, 'earlier' as const, 'expired' as const),
      }),
    },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('destroy' as const), id }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('destroyUser' as const), user }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('sessionsOf' as const), user }) },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('get' as const), id }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('sweep' as const) }) },
  );
  const at = withLegacy
    ? fc.constantFrom('new' as const, 'legacy' as const, 'none' as const)
    : fc.constantFrom('new' as const, 'none' as const);
  return fc.record({
    initial: fc.array(fc.record({ at, owner }), { minLength: IDS, maxLength: IDS }),
    clients: fc.array(fc.array(op, { minLength: 1, maxLength: 4 }), { minLength: 3, maxLength: 3 }),
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  });
}

/** mulberry32: a small seeded PRNG for the scheduler. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One set's data: its version identifies it in what later reads return. */
interface Version {
  v: number;
  id: number;
  owner: number | null;
  start: number;
  end: number;
  /** Planted in the legacy layout before the run (not in any index until a read moves it). */
  legacy?: boolean;
}

interface Event {
  client: number;
  op: OpSpec;
  start: number;
  end: number;
  /** get: the version read (null: nothing); sessionsOf: the ids listed. */
  result?: number | null | number[];
  error?: string;
}

/** What a lane needs: stores on clients of their own (scheduled), and a store to set up and check with. */
export interface Lane {
  stores: SessionStore[];
  clients: Array<Redis | Cluster>;
  direct: SessionStore;
  /** Writes a legacy connect-redis copy (single node only). */
  plantLegacy?: (sid: string, json: string) => Promise<void>;
  /** Deletes what a run left under these ids and user names, so sweeps (SCAN) stay cheap. */
  forget: (sids: string[], users: string[]) => Promise<void>;
  /**
   * A cluster: a save with an owner writes the index entry, then the session, then checks the
   * entry again and ends what it wrote if destroyUser revoked it meanwhile. Until that save
   * returns, a read may see its data.
   */
  twoStepSaves?: boolean;
}

const LONG = 3_600_000;

function cookie(maxAgeMs: number) {
  return { originalMaxAge: maxAgeMs, expires: new Date(Date.now() + maxAgeMs).toISOString() };
}

/** Runs lanes: each lane's clients go through its own scheduler. */
export function laneRunner(lane: Lane) {
  let pending: Unit[] = [];
  let active = false;
  for (const [i, c] of lane.clients.entries()) {
    intercept(c, String(i), (unit) => {
      if (active) pending.push(unit);
      else void unit.send();
    });
  }

  async function drive(done: () => boolean, random: () => number, stuck: () => string): Promise<number> {
    let sent = 0;
    let since = Date.now();
    while (!done()) {
      await tick();
      if (pending.length === 0) {
        // commands sent to a cluster node's own connection (SCAN on each master) bypass the
        // scheduler: they just run
        if (Date.now() - since > 10_000) throw new Error(`model check: operations stuck: ${stuck()}`);
        continue;
      }
      since = Date.now();
      const i = Math.floor(random() * pending.length);
      const [unit] = pending.splice(i, 1);
      await (unit as Unit).send();
      sent++;
    }
    return sent;
  }

  /** Runs one scenario; returns what the oracle found wrong (empty: nothing), and commands scheduled. */
  async function run(sc: Scenario): Promise<{ violations: string[]; commands: number }> {
    const tag = randomBytes(4).toString('hex');
    const sids = sc.initial.map(() => randomBytes(24).toString('base64url'));
    const userName = (u: number) => `u${u}-${tag}`;
    let clock = 0;
    let nextV = 1;
    const versions = new Map<number, Version>();
    const events: Event[] = [];
    const data = (ver: Version) => ({ v: ver.v, ...(ver.owner !== null ? { user: userName(ver.owner) } : {}) });

    // before the run: sessions already there (as if set long ago)
    for (const [id, init] of sc.initial.entries()) {
      if (init.at === 'none') continue;
      const ver: Version = { v: nextV++, id, owner: init.owner, start: -1, end: -1, legacy: init.at === 'legacy' };
      versions.set(ver.v, ver);
      if (init.at === 'new') await lane.direct.set(sids[id] as string, { cookie: cookie(LONG), ...data(ver) });
      else await lane.plantLegacy?.(sids[id] as string, JSON.stringify({ cookie: cookie(LONG), ...data(ver) }));
    }

    /** The latest version of an id whose set completed before `t` (what a request could have loaded). */
    const loaded = (id: number, t: number, stale: boolean): Version | null => {
      const done = [...versions.values()].filter((x) => x.id === id && x.end < t).sort((x, y) => x.end - y.end);
      if (done.length === 0) return null;
      return (stale && done.length > 1 ? done[done.length - 2] : done[done.length - 1]) as Version;
    };

    async function exec(client: number, op: OpSpec): Promise<void> {
      const store = lane.stores[client] as SessionStore;
      const ev: Event = { client, op, start: ++clock, end: 0 };
      events.push(ev);
      let written: Version | null = null;
      try {
        switch (op.kind) {
          case 'set': {
            const ver: Version = {
              v: nextV++,
              id: op.id,
              owner: op.owner,
              start: ev.start,
              end: Number.POSITIVE_INFINITY,
            };
            // an expired cookie's data is never readable: it is not a version anyone may see
            if (!op.expired) versions.set(ver.v, ver);
            written = ver;
            await store.set(sids[op.id] as string, { cookie: cookie(op.expired ? -1000 : LONG), ...data(ver) });
            break;
          }
          case 'touch': {
            const ver = loaded(op.id, ev.start, op.stale);
            const ms = op.cookie === 'later' ? 2 * LONG : op.cookie === 'earlier' ? 30_000 : -1000;
            await store.touch(sids[op.id] as string, { cookie: cookie(ms), ...(ver ? data(ver) : { v: 0 }) });
            break;
          }
          case 'destroy':
            await store.destroy(sids[op.id] as string);
            break;
          case 'destroyUser':
            await store.destroyUser(userName(op.user));
            break;
          case 'sessionsOf': {
            const listed = await store.sessionsOf(userName(op.user));
            ev.result = listed.map((s) => sids.indexOf(s.id as string));
            break;
          }
          case 'get': {
            const got = await store.get(sids[op.id] as string);
            ev.result = got === null ? null : (got.v as number);
            break;
          }
          case 'sweep':
            await store.sweep({ graceMs: 0 });
            break;
        }
      } catch (err) {
        ev.error = (err as Error).message;
      }
      ev.end = ++clock;
      if (written) written.end = ev.end;
    }

    pending = [];
    active = true;
    let finished = 0;
    const running = sc.clients.map(async (ops, c) => {
      for (const op of ops) await exec(c, op);
      finished++;
    });
    let commands = 0;
    try {
      commands = await drive(
        () => finished === sc.clients.length,
        prng(sc.seed),
        () =>
          events
            .filter((e) => e.end === 0)
            .map(describe)
            .join('; '),
      );
      await Promise.all(running);
    } finally {
      active = false;
      for (const u of pending.splice(0)) void u.send();
    }
    // the quiescent state: a final read of every id, as one more client after everything
    const after = ++clock;
    const finalReads: Event[] = [];
    for (const [id, sid] of sids.entries()) {
      const got = await lane.direct.get(sid);
      finalReads.push({
        client: -1,
        op: { kind: 'get', id },
        start: after,
        end: after,
        result: got === null ? null : (got.v as number),
      });
    }
    const violations = check([...events, ...finalReads], versions, sc, lane.twoStepSaves === true);
    // every session still alive is in its owner's index, and a log out everywhere ends it
    const alive = finalReads
      .map((ev) => (typeof ev.result === 'number' ? versions.get(ev.result) : undefined))
      .filter((ver): ver is Version => ver !== undefined && ver.owner !== null);
    for (const ver of alive) {
      const listed = await lane.direct.sessionsOf(userName(ver.owner as number));
      if (!listed.some((s) => s.id === sids[ver.id])) {
        violations.push(`end: id ${ver.id} (v${ver.v}) alive but not in sessionsOf(u${ver.owner})`);
      }
    }
    for (const owner of new Set(alive.map((ver) => ver.owner as number)))
      await lane.direct.destroyUser(userName(owner));
    for (const ver of alive) {
      if ((await lane.direct.get(sids[ver.id] as string)) !== null) {
        violations.push(`end: id ${ver.id} survives destroyUser(u${ver.owner})`);
      }
    }
    await lane.forget(
      sids,
      Array.from({ length: USERS }, (_, u) => userName(u)),
    );
    for (const e of events) if (e.error) violations.push(`op failed: ${describe(e)}: ${e.error}`);
    if (violations.length > 0 && process.env.LOGOUT_MODEL_TRACE)
      violations.push(`trace: ${[...events, ...finalReads].map(describe).join('; ')}`);
    return { violations, commands };
  }

  return { run };
}

function describe(e: Event): string {
  const { kind, ...rest } = e.op;
  return `c${e.client} ${kind}(${JSON.stringify(rest)}) [${e.start},${e.end}] -> ${JSON.stringify(e.result ?? null)}`;
}

/**
 * The oracle. With `t < t'` for logical times (an operation that ended before another started
 * happened before it, in real time, for any observer):
 * - after destroy(id) returned (or a set whose cookie had expired), no read returns data;
 * - after destroyUser(u) returned, no read returns data of u written by a set that started before
 *   destroyUser did (a login during the call may survive; on a cluster, a save still running when
 *   the read started may be seen until it returns: see Lane.twoStepSaves);
 * - a read never returns data older than a set that completed before it started, nor nothing when
 *   one did, unless a log out, or a touch with an expired cookie (which may end it), was under way;
 * - sessionsOf(u) lists every session that was u's throughout the call.
 */
function check(events: Event[], versions: Map<number, Version>, sc: Scenario, twoStepSaves: boolean): string[] {
  const out: string[] = [];
  const ends = (e: Event, id: number) =>
    (e.op.kind === 'destroy' && e.op.id === id) || (e.op.kind === 'set' && e.op.id === id && e.op.expired);
  const ownersOf = (id: number) => new Set([...versions.values()].filter((x) => x.id === id).map((x) => x.owner));
  /** A log out, or an expired-cookie touch, of this id that started before t. */
  const endedBefore = (id: number, t: number) =>
    events.some(
      (e) =>
        e.start < t &&
        (ends(e, id) ||
          (e.op.kind === 'destroyUser' && ownersOf(id).has(e.op.user)) ||
          (e.op.kind === 'touch' && e.op.id === id && e.op.cookie === 'expired')),
    );
  const sets = (id: number) => [...versions.values()].filter((x) => x.id === id);

  for (const g of events) {
    if (g.op.kind !== 'get' || g.error) continue;
    const id = g.op.id;
    if (typeof g.result === 'number') {
      const ver = versions.get(g.result);
      if (!ver) {
        out.push(`read of data never stored: ${describe(g)}`);
        continue;
      }
      for (const d of events) {
        if (d.end < g.start && ends(d, id)) out.push(`read after a log out: ${describe(d)} then ${describe(g)}`);
        // (with two-step saves, one still running when the read started may be seen: it ends itself)
        const running = twoStepSaves && ver.end > g.start;
        if (
          d.end < g.start &&
          d.op.kind === 'destroyUser' &&
          d.op.user === ver.owner &&
          !(ver.start > d.start) &&
          !running
        ) {
          out.push(`read after log out everywhere: ${describe(d)} then ${describe(g)} (v${ver.v} set at ${ver.start})`);
        }
      }
      if (!endedBefore(id, g.end)) {
        const newer = sets(id).find((s) => s.start > ver.end && s.end < g.start);
        if (newer) out.push(`stale read: ${describe(g)} returned v${ver.v}, v${newer.v} was stored before`);
      }
    } else if (g.result === null && !endedBefore(id, g.end)) {
      const stored = sets(id).find((s) => s.end < g.start);
      if (stored) out.push(`lost session: ${describe(g)} returned nothing, v${stored.v} was stored before`);
    }
  }

  for (const so of events) {
    if (so.op.kind !== 'sessionsOf' || so.error) continue;
    const user = so.op.user;
    const listed = new Set(so.result as number[]);
    for (let id = 0; id < sc.initial.length; id++) {
      // u's session throughout the call: its latest set completed before, and no other write or
      // log out of it since that set started (of two overlapping sets either may land last)
      const done = sets(id).filter((s) => s.end < so.start && !s.legacy);
      const last = done.sort((x, y) => x.end - y.end)[done.length - 1];
      // (a set after a log out of its id may have been dropped: then nothing is owed)
      if (!last || last.owner !== user || endedBefore(id, last.end)) continue;
      const touched = events.some(
        (e) =>
          e !== so &&
          !(e.op.kind === 'set' && e.start === last.start) &&
          e.start < so.end &&
          e.end > last.start &&
          (('id' in e.op && e.op.id === id && e.op.kind !== 'get' && e.op.kind !== 'touch') ||
            (e.op.kind === 'touch' && e.op.id === id && e.op.cookie === 'expired') ||
            (e.op.kind === 'destroyUser' && e.op.user === user)),
      );
      if (!touched && !listed.has(id))
        out.push(`sessionsOf missed a live session: ${describe(so)}, id ${id} (v${last.v})`);
    }
  }
  return out;
}
