import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { createSessionStore } from 'redisession';
import { afterAll, describe, expect, it } from 'vitest';
import { assertBuilt, dropQueues, killWorker, runCli, startWorker, type WorkerProcess } from '../helpers/cli.js';
import { dropPrefix, rawClient, redisUrl, testPrefix } from '../helpers/redis.js';
import { countFields, plantSessions, plantValue, storedValue } from '../helpers/sessions.js';

/**
 * The commands the web-tier library needs, and nothing else: what a Redis ACL user for the
 * session store must be granted (documented in the README). Commands called inside our Lua
 * scripts need the permission too. Each one was checked to be needed by dropping it in turn.
 */
const STORE_COMMANDS = [
  // ioredis's ready check (without it ioredis warns and skips the check)
  'info',
  // string mode
  'get',
  'set',
  'pexpire',
  'unlink',
  // hash mode
  'hget',
  'hdel',
  'hset',
  'hscan',
  'hrandfield',
  'pttl',
  // scripts (EVALSHA, EVAL on NOSCRIPT) and what they call
  'evalsha',
  'eval',
  'time',
  'type',
  'getrange',
  // length, clear, sweep, ids, all
  'scan',
];

/** What the `legacy` option adds (destroy removes the legacy copy in session_destroy.lua), on top of the old prefix's keys. */
const LEGACY_COMMANDS = ['del'];
/** What the `userId` option adds: sessionsOf and destroyUser read the whole index. */
const USER_INDEX_COMMANDS = ['hgetall'];

/** Every command BullMQ 6's Lua scripts call (any script may run: all are needed). */
// biome-ignore format: a table
const BULLMQ_SCRIPT_COMMANDS = [
  'del', 'exists', 'get', 'hdel', 'hexists', 'hget', 'hgetall', 'hincrby', 'hlen', 'hmget', 'hmset', 'hset',
  'incr', 'incrby', 'lindex', 'llen', 'lpop', 'lpos', 'lpush', 'lrange', 'lrem', 'lset', 'ltrim', 'persist',
  'pexpire', 'pexpireat', 'pttl', 'rename', 'rpop', 'rpoplpush', 'rpush', 'sadd', 'scard', 'set', 'sismember',
  'smembers', 'srem', 'time', 'type', 'unlink', 'xadd', 'xdel', 'xlen', 'xrange', 'xread', 'xtrim', 'zadd',
  'zcard', 'zcount', 'zlexcount', 'zpopmin', 'zrange', 'zrangebylex', 'zrangebyscore', 'zrem',
  'zremrangebyrank', 'zremrangebyscore', 'zrevrange', 'zrevrangebyscore', 'zscore',
];
/**
 * What BullMQ and ioredis send outside scripts (read from INFO commandstats after a worker run,
 * `cleanup --wait`, `schedule` and `stats`): connection names and the ready check, blocking waits
 * for jobs, QueueEvents' stream reads, MULTI for flows, the scripts themselves. (ioredis also
 * sends HELLO, and does without it.)
 */
const BULLMQ_CLIENT_COMMANDS = ['client|setname', 'info', 'bzpopmin', 'xread', 'multi', 'exec', 'evalsha', 'eval'];
/** `--wait` reads the newest event id first (without it, it still ends: it looks at the job every second). */
const CLI_COMMANDS = ['xrevrange'];
/** The worker's sweep (bucket_scan.lua) and `redisession stats`, on the sessions' prefix. */
const WORKER_SESSION_COMMANDS = ['scan', 'type', 'hscan', 'hdel', 'time', 'hlen', 'object|encoding', 'memory|usage'];
const WORKER_COMMANDS = [
  ...new Set([...BULLMQ_SCRIPT_COMMANDS, ...BULLMQ_CLIENT_COMMANDS, ...CLI_COMMANDS, ...WORKER_SESSION_COMMANDS]),
].sort();
/**
 * Set to check that a command is needed: the tests must then fail (`ACL_DROP=hlen npx vitest run ...`).
 * Done for each client and session command of the worker (HELLO turned out not to be needed).
 */
const dropped = (commands: string[]) => commands.filter((c) => c !== process.env.ACL_DROP);

const raw = rawClient();
const prefix = testPrefix('acl');
const user = `rs-${randomBytes(4).toString('hex')}`;
const password = randomBytes(12).toString('hex');
const oldPrefix = testPrefix('acl-old');
const workers: WorkerProcess[] = [];
const queues: string[] = [];

afterAll(async () => {
  await Promise.all(workers.map(killWorker));
  await raw.call('ACL', 'DELUSER', user);
  await dropPrefix(raw, prefix);
  await dropPrefix(raw, oldPrefix);
  await dropQueues(queues, raw);
});

/** (Re)defines the test's ACL user with exactly these commands and key patterns; its URL. */
async function grant(commands: string[], keyPatterns: string[]): Promise<string> {
  const keys = keyPatterns.map((k) => `~${k}`);
  await raw.call(
    'ACL',
    'SETUSER',
    user,
    'reset',
    'on',
    `>${password}`,
    ...keys,
    'resetchannels',
    '-@all',
    ...commands.map((c) => `+${c}`),
  );
  return `redis://${user}:${password}@127.0.0.1:${new URL(redisUrl()).port}`;
}

describe('a Redis ACL user limited to the prefix and the commands the store uses', () => {
  it.each(['hash', 'string'] as const)('%s mode: every store method works with exactly those rights', async (mode) => {
    const url = await grant(dropped(STORE_COMMANDS), [`${prefix}*`]);
    const store = createSessionStore({
      redis: url,
      mode,
      prefix: `${prefix}${mode}:`, // a store's layout is recorded under its prefix: one per mode
      inlineSweep: 1,
      onCorrupt: 'delete',
    });
    const id = randomBytes(24).toString('base64url');
    await store.set(id, { user: 'erin' });
    expect(await store.get(id)).toEqual({ user: 'erin' });
    await store.touch(id, { cookie: { expires: new Date(Date.now() + 60_000) } });
    await store.set(randomBytes(24).toString('base64url'), { short: true }, { ttlMs: 20 });
    expect(await store.length()).toBeGreaterThanOrEqual(1);
    expect(await store.ids()).toContain(id);
    expect(await store.all()).toContainEqual(expect.objectContaining({ id, user: 'erin' }));
    await store.sweep({ graceMs: 0 });
    // an undecodable value, deleted by compare-and-delete (onCorrupt: 'delete')
    const broken = randomBytes(24).toString('base64url');
    await plantValue(raw, `${prefix}${mode}:`, mode, broken, Buffer.from('not an envelope'));
    expect(await store.get(broken)).toBeNull();
    expect(await storedValue(raw, `${prefix}${mode}:`, mode, broken)).toBeNull();
    await store.destroy(id);
    expect(await store.get(id)).toBeNull();
    await store.clear();
    expect(await store.length()).toBe(0);
    await store.close();

    // and the rights really are that narrow
    const same = new Redis(url);
    await expect(same.get('outside-the-prefix')).rejects.toThrow(/NOPERM/);
    await expect(same.call('FLUSHDB')).rejects.toThrow(/NOPERM/);
    await same.quit();
  });

  it.each(['hash', 'string'] as const)('%s mode with legacy and userId: the few commands they add', async (mode) => {
    const url = await grant(
      [...STORE_COMMANDS, ...LEGACY_COMMANDS, ...USER_INDEX_COMMANDS],
      [`${prefix}*`, `${oldPrefix}*`],
    );
    const store = createSessionStore({
      redis: url,
      mode,
      prefix: `${prefix}legacy-${mode}:`,
      legacy: { layout: 'connect-redis', prefix: oldPrefix },
      userId: (s) => s.user as string | undefined,
    });
    const moved = randomBytes(24).toString('base64url');
    const touched = randomBytes(24).toString('base64url');
    await raw.set(`${oldPrefix}${moved}`, JSON.stringify({ user: 'frank' }), 'EX', 60);
    await raw.set(`${oldPrefix}${touched}`, JSON.stringify({ user: 'frank' }), 'EX', 60);
    expect(await store.get(moved)).toEqual({ user: 'frank' });
    await store.touch(touched, { user: 'frank', cookie: { expires: new Date(Date.now() + 60_000) } });
    expect((await store.sessionsOf('frank')).length).toBe(2);
    await store.set(randomBytes(24).toString('base64url'), { user: 'frank' });
    expect(await store.destroyUser('frank')).toBe(3);
    await store.destroy(moved);
    await store.sweep({ graceMs: 0 });
    await store.clear();
    await store.close();
  });
});

describe('the worker and the CLI with an ACL user limited to the two prefixes and the commands they use', () => {
  it("lists every command BullMQ's Lua scripts call", () => {
    const dir = new URL('../../node_modules/bullmq/dist/esm/commands/', import.meta.url);
    const called = new Set<string>();
    for (const sub of ['', 'includes/']) {
      for (const file of readdirSync(new URL(sub, dir)).filter((f) => f.endsWith('.lua'))) {
        const lua = readFileSync(new URL(sub + file, dir), 'utf8');
        for (const m of lua.matchAll(/(?:rcall|redis\.p?call)\(\s*["']([A-Za-z]+)["']/g))
          called.add((m[1] as string).toLowerCase());
      }
    }
    expect(called.size).toBeGreaterThan(40);
    expect([...called].filter((c) => !BULLMQ_SCRIPT_COMMANDS.includes(c))).toEqual([]);
  });

  it('sweeps through the worker, shows and changes the schedule, and reports stats', async () => {
    assertBuilt();
    const queue = `acl-${randomBytes(4).toString('hex')}`;
    queues.push(queue);
    const workerPrefix = `${prefix}w:`;
    const url = await grant(dropped(WORKER_COMMANDS), [`${workerPrefix}*`, `{redisession}:${queue}:*`]);
    await plantSessions(raw, workerPrefix, 256, 70, 30);
    const env = {
      REDIS_URL: url,
      QUEUE_NAME: queue,
      SESSION_PREFIX: workerPrefix,
      SESSION_BUCKETS: '256',
      CLEANUP_GRACE: '0',
      CLEANUP_SHARDS: '2',
      CLEANUP_SCHEDULE: 'on',
      CLEANUP_EVERY: '1h',
      LOG_LEVEL: 'debug',
    };
    const w = startWorker(env);
    workers.push(w);
    await w.ready;
    // the scheduled first run, then one asked for from the CLI
    await w.waitForLog((l) => l.msg === 'sweep finished');
    const cleanup = await runCli(['cleanup', '--wait', '--json'], env);
    expect(cleanup.code, cleanup.stderr).toBe(0);
    expect(JSON.parse(cleanup.stdout)).toMatchObject({ buckets: 256, scanned: 30, deleted: 0 });
    expect(await countFields(raw, workerPrefix)).toBe(30);
    const stats = await runCli(['stats', '--exact', '--json'], env);
    expect(stats.code, stats.stderr).toBe(0);
    const report = JSON.parse(stats.stdout);
    // encodings and bytes need OBJECT ENCODING and MEMORY USAGE
    expect(report).toMatchObject({ sessions: 30, expiredNotSwept: 0, encodings: { listpack: expect.any(Number) } });
    expect(report.bytesPerSession).toBeGreaterThan(0);
    const schedule = await runCli(['schedule', '--every', '2h', '--json'], env);
    expect(schedule.code, schedule.stderr).toBe(0);
    expect(JSON.parse(schedule.stdout)).toMatchObject({ every: '2h' });
    w.proc.kill('SIGTERM');
    expect((await w.exited).code).toBe(0);

    const everything = JSON.stringify(w.logs) + [cleanup, stats, schedule].map((o) => o.stdout + o.stderr).join('');
    // the one thing refused: reading maxmemory-policy (CONFIG), which the worker only warns about
    const refused = w.logs.filter((l) => /NOPERM/.test(JSON.stringify(l)));
    expect(refused.map((l) => l.msg)).toEqual(['cannot read maxmemory-policy (CONFIG not allowed?)']);
    expect(w.logs.some((l) => Number(l.level) >= 50)).toBe(false); // no error logged
    expect(everything).not.toContain(password);
  }, 60_000);
});
