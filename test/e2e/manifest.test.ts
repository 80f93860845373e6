import { randomBytes } from 'node:crypto';
import { createSessionStore, LayoutMismatchError } from 'redisession';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, runCli } from '../helpers/cli.js';
import { dropPrefix, rawClient, redisUrl, testPrefix } from '../helpers/redis.js';

const raw = rawClient();
const prefix = testPrefix('manifest-cli');
const cli = (...args: string[]) => runCli(args, { REDIS_URL: redisUrl(), SESSION_PREFIX: prefix });
const sid = () => randomBytes(24).toString('base64url');

beforeAll(assertBuilt);
afterAll(() => dropPrefix(raw, prefix));

describe('redisession manifest', () => {
  it('shows the recorded layout, and --forget lets a deliberate change be recorded', async () => {
    const none = await cli('manifest', '--json');
    expect(none.code).toBe(0);
    expect(JSON.parse(none.stdout)).toBeNull();

    const web = createSessionStore({ redis: redisUrl(), prefix, buckets: 1024, idSecret: 's'.repeat(32) });
    await web.set(sid(), { user: 1 });
    await web.close();
    const shown = await cli('manifest');
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^layout +hash mode, 1024 buckets, ids hashed with idSecret [0-9a-f]{12}$/m);
    expect(shown.stdout).toMatch(/^created +\S+Z by redisession [\d.]+ \(createSessionStore\) on \S+$/m);
    expect(shown.stdout).not.toContain('s'.repeat(16));
    const json = JSON.parse((await cli('manifest', '--json')).stdout);
    expect(json).toMatchObject({ mode: 'hash', buckets: 1024, keyScheme: 'hashed', format: 1 });

    // a web tier with other options refuses to serve the store
    const changed = createSessionStore({ redis: redisUrl(), prefix, buckets: 4096, idSecret: 's'.repeat(32) });
    const err = await changed.checkLayout?.().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LayoutMismatchError);
    console.log(`[manifest] ${(err as Error).message}`);
    await changed.close();

    const forgot = await cli('manifest', '--forget');
    expect(forgot.code).toBe(0);
    expect(forgot.stderr).toMatch(/forgot the layout recorded for store ".*" \(key ".*\\x07manifest": hash mode, 1024/);
    const again = createSessionStore({ redis: redisUrl(), prefix, buckets: 4096, idSecret: 's'.repeat(32) });
    expect(await again.checkLayout?.()).toMatchObject({ buckets: 4096 });
    await again.close();
  });
});
