import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import {
  assertRedisServerInstalled,
  freePort,
  type RedisServer,
  startRedisServer,
  waitForRedis,
} from './redis-server.js';

/*
 * Real multi-process Redis topologies for the tests that need them (started in those test files,
 * never in global setup): a Redis Cluster of N masters, and a master + replica watched by three
 * sentinels. Everything binds to 127.0.0.1 and lives in a temporary directory removed on destroy.
 */

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not ready yet
    }
    if (Date.now() > deadline) throw new Error(`${what}: not reached in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface ClusterNodeInfo {
  server: RedisServer;
  id: string;
  /** A plain client to this node (for CLUSTER commands). */
  admin: Redis;
}

export interface TestCluster {
  /** The masters it started with (a failover may change that: ask CLUSTER NODES). */
  nodes: ClusterNodeInfo[];
  /** Replicas (startCluster's `replicas` per master), the i-th of master i % masters. */
  replicas: ClusterNodeInfo[];
  /** "127.0.0.1:port" of every node, for { cluster: [...] } and REDIS_CLUSTER_NODES. */
  addresses: string[];
  /** The node serving a slot, by the first node's view of the slot map. */
  ownerOf(slot: number): Promise<ClusterNodeInfo>;
  /** The id of the node serving each of the 16384 slots, by the first node's view. */
  slotOwners(): Promise<string[]>;
  /** Waits until every node (or every node given) reports cluster_state:ok and the same slot owners. */
  waitStable(nodes?: ClusterNodeInfo[]): Promise<void>;
  destroy(): Promise<void>;
}

async function clusterOk(nodes: ClusterNodeInfo[]): Promise<boolean> {
  const views: string[] = [];
  for (const n of nodes) {
    const info = await n.admin.cluster('INFO');
    if (!/cluster_state:ok/.test(info)) return false;
    const slots = (await n.admin.cluster('SLOTS')) as unknown as Array<[number, number, [string, number, string]]>;
    views.push(
      slots
        .map(([a, b, [, , id]]) => `${a}-${b}:${id}`)
        .sort()
        .join(','),
    );
  }
  return views.every((v) => v === views[0]);
}

/**
 * Starts `masters` cluster-enabled redis-servers and joins them into one cluster with every slot
 * assigned, then `replicas` replicas per master; with a password, every node requires it
 * (requirepass + masterauth).
 */
export async function startCluster(
  masters = 3,
  opts: { password?: string; replicas?: number } = {},
): Promise<TestCluster> {
  const auth = opts.password ? ['--requirepass', opts.password, '--masterauth', opts.password] : [];
  assertRedisServerInstalled();
  const nodes: ClusterNodeInfo[] = [];
  const replicas: ClusterNodeInfo[] = [];
  const startNode = async (): Promise<ClusterNodeInfo> => {
    const server = await startRedisServer([
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      'nodes.conf',
      '--cluster-node-timeout',
      '2000',
      ...auth,
    ]);
    const admin = new Redis(server.port, '127.0.0.1', {
      maxRetriesPerRequest: 1,
      ...(opts.password ? { password: opts.password } : {}),
    });
    admin.on('error', () => {}); // a node a test kills
    return { server, admin, id: await admin.cluster('MYID') };
  };
  try {
    for (let i = 0; i < masters; i++) nodes.push(await startNode());
    const addresses = nodes.map((n) => `127.0.0.1:${n.server.port}`);
    await createCluster(nodes);
    const waitStable = (among: ClusterNodeInfo[] = [...nodes, ...replicas]) =>
      until('cluster_state:ok on every node, one slot map', () => clusterOk(among));
    await waitStable();
    for (let i = 0; i < masters * (opts.replicas ?? 0); i++) {
      const replica = await startNode();
      replicas.push(replica);
      const master = nodes[i % masters] as ClusterNodeInfo;
      await replica.admin.cluster('MEET', '127.0.0.1', master.server.port);
      await until('the replica knows its master', async () =>
        String(await replica.admin.cluster('NODES')).includes(master.id),
      );
      await replica.admin.cluster('REPLICATE', master.id);
    }
    for (const r of replicas) {
      await until('replica in sync', async () => /master_link_status:up/.test(await r.admin.info('replication')));
    }
    await waitStable();
    return {
      nodes,
      replicas,
      addresses,
      waitStable,
      async ownerOf(slot) {
        const slots = (await nodes[0]?.admin.cluster('SLOTS')) as unknown as Array<
          [number, number, [string, number, string]]
        >;
        const range = slots.find(([a, b]) => slot >= a && slot <= b);
        const owner = nodes.find((n) => n.id === range?.[2][2]);
        if (!owner) throw new Error(`no owner for slot ${slot}`);
        return owner;
      },
      async slotOwners() {
        const slots = (await nodes[0]?.admin.cluster('SLOTS')) as unknown as Array<
          [number, number, [string, number, string]]
        >;
        const owners = new Array<string>(16384);
        for (const [a, b, [, , id]] of slots) owners.fill(id, a, b + 1);
        return owners;
      },
      destroy: () => destroyAll([...nodes, ...replicas]),
    };
  } catch (err) {
    await destroyAll([...nodes, ...replicas]);
    throw err;
  }
}

/**
 * What `redis-cli --cluster create` does for masters only: the slots cut into equal ranges, a
 * distinct config epoch per node (so no epoch collision has to be resolved), then every node meets
 * the first. Sent with the nodes' own clients, so the tests need no redis-cli.
 */
async function createCluster(nodes: ClusterNodeInfo[]): Promise<void> {
  const per = Math.ceil(16384 / nodes.length);
  for (const [i, n] of nodes.entries()) {
    await n.admin.cluster('ADDSLOTSRANGE', i * per, Math.min(16384, (i + 1) * per) - 1);
    await n.admin.cluster('SET-CONFIG-EPOCH', i + 1);
  }
  const first = nodes[0] as ClusterNodeInfo;
  for (const n of nodes.slice(1)) await n.admin.cluster('MEET', '127.0.0.1', first.server.port);
}

async function destroyAll(nodes: ClusterNodeInfo[]): Promise<void> {
  for (const n of nodes) n.admin.disconnect();
  await Promise.all(nodes.map((n) => n.server.destroy()));
}

/**
 * Moves slots from one master to another as `redis-cli --cluster reshard` does, one slot at a
 * time: IMPORTING on the target, MIGRATING on the source, MIGRATE the keys in small batches
 * (pausing `pauseMs` between batches, so clients meet the slot half-moved and get ASK), then
 * SETSLOT NODE everywhere.
 */
export async function migrateSlots(
  cluster: TestCluster,
  from: ClusterNodeInfo,
  to: ClusterNodeInfo,
  slots: number[],
  pauseMs = 0,
): Promise<{ keysMoved: number }> {
  let keysMoved = 0;
  for (const slot of slots) {
    await to.admin.cluster('SETSLOT', slot, 'IMPORTING', from.id);
    await from.admin.cluster('SETSLOT', slot, 'MIGRATING', to.id);
    for (;;) {
      const bufKeys = (await from.admin.callBuffer('CLUSTER', 'GETKEYSINSLOT', String(slot), '5')) as Buffer[];
      if (bufKeys.length === 0) break;
      const auth = (from.admin.options.password ? ['AUTH', from.admin.options.password] : []) as string[];
      await from.admin.callBuffer(
        'MIGRATE',
        '127.0.0.1',
        String(to.server.port),
        '',
        '0',
        '5000',
        ...auth,
        'KEYS',
        ...bufKeys,
      );
      keysMoved += bufKeys.length;
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    }
    // the target first, then the source, then the rest (what redis-cli does)
    await to.admin.cluster('SETSLOT', slot, 'NODE', to.id);
    await from.admin.cluster('SETSLOT', slot, 'NODE', to.id);
    for (const n of cluster.nodes) if (n !== to && n !== from) await n.admin.cluster('SETSLOT', slot, 'NODE', to.id);
  }
  return { keysMoved };
}

export interface TestSentinels {
  master: RedisServer;
  replica: RedisServer;
  /** "127.0.0.1:port" of the three sentinels, for REDIS_SENTINELS. */
  addresses: string[];
  sentinels: Array<{ host: string; port: number }>;
  masterName: string;
  /** The master's port as the sentinels say now. */
  currentMasterPort(): Promise<number>;
  destroy(): Promise<void>;
}

/**
 * One master, one replica, three sentinels (quorum 2) with short timeouts: a dead master is
 * noticed after 1 s and the replica promoted a moment later.
 */
export async function startSentinels(masterName = 'rsmaster'): Promise<TestSentinels> {
  assertRedisServerInstalled();
  const master = await startRedisServer();
  const replica = await startRedisServer(['--replicaof', '127.0.0.1', String(master.port)]);
  const procs: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'redisession-sentinel-'));
  const destroy = async () => {
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            p.once('exit', () => resolve());
            p.kill('SIGKILL');
          }),
      ),
    );
    await Promise.all([master.destroy(), replica.destroy()]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const replicaClient = new Redis(replica.port, '127.0.0.1');
    await until('replica in sync', async () =>
      /master_link_status:up/.test(await replicaClient.info('replication')),
    ).finally(() => replicaClient.disconnect());
    const sentinels: Array<{ host: string; port: number }> = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = join(dir, `sentinel-${i}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds ${masterName} 1000`,
          `sentinel failover-timeout ${masterName} 3000`,
          `sentinel parallel-syncs ${masterName} 1`,
          '',
        ].join('\n'),
      );
      procs.push(spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' }));
      await waitForRedis(port);
      sentinels.push({ host: '127.0.0.1', port });
    }
    const first = new Redis(sentinels[0]?.port as number, '127.0.0.1');
    try {
      await until('sentinels see each other and the replica', async () => {
        const flat = (await first.call('SENTINEL', 'MASTER', masterName)) as string[];
        const info = Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]]] : [])));
        return info['num-other-sentinels'] === '2' && info['num-slaves'] === '1';
      });
    } finally {
      first.disconnect();
    }
    return {
      master,
      replica,
      sentinels,
      addresses: sentinels.map((s) => `${s.host}:${s.port}`),
      masterName,
      async currentMasterPort() {
        const s = new Redis(sentinels[0]?.port as number, '127.0.0.1');
        try {
          const [, port] = (await s.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)) as [string, string];
          return Number(port);
        } finally {
          s.disconnect();
        }
      },
      destroy,
    };
  } catch (err) {
    await destroy();
    throw err;
  }
}
