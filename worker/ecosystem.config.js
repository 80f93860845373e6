// PM2 process file for the cleanup worker, shipped in redisession-worker. Run `pm2 start` in the
// directory that holds your .env (if any), as `npx redisession worker` is run there:
//   pm2 start node_modules/redisession-worker/ecosystem.config.js   (an app that installed it)
//   pm2 start worker/ecosystem.config.js                            (a clone, after `npm ci`)
// Settings come from the environment, or a .env file in that directory (the environment wins), and
// the worker runs there; .env.example, next to this file, lists them. PM2 loads this file in the
// `pm2` command's own process, so process.cwd() is where `pm2 start` was typed. A named `apps`
// export, so PM2's require() of this ES module works on Node >= 20.19. The .env reader and the
// duration parser are the worker's own (from dist/), so PM2 and the worker never read a setting
// differently.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseDuration } from './dist/worker/duration.js';
import { loadEnvFile } from './dist/worker/env-file.js';

const cwd = process.cwd();
const envFile = join(cwd, '.env');
// a malformed .env throws here, naming its line: PM2 shows the error and starts nothing
if (existsSync(envFile)) loadEnvFile(envFile);

const instances = Number(process.env.WORKER_INSTANCES || 2);

// PM2 sends SIGINT, then SIGKILL after kill_timeout: give the worker its whole SHUTDOWN_TIMEOUT
// (finish the batch, park the shard, close connections) plus a margin, so PM2 never cuts it short.
// An unreadable value keeps the default here; the worker itself then refuses to start, saying why.
const shutdownMs = parseDuration(process.env.SHUTDOWN_TIMEOUT || '25s') ?? 25_000;

export const apps = [
  {
    name: 'redisession-worker',
    script: join(import.meta.dirname, 'dist/cli/main.js'),
    args: 'worker',
    cwd, // where the worker reads .env too (it always reads the one in its working directory)
    exec_mode: 'fork', // explicit: `instances` without it would mean cluster mode
    instances: Number.isInteger(instances) && instances > 0 ? instances : 2,
    wait_ready: true, // the worker calls process.send('ready') once connected
    listen_timeout: 20_000,
    kill_timeout: shutdownMs + 5_000,
    autorestart: true,
    exp_backoff_restart_delay: 200,
    max_memory_restart: '512M',
    // With METRICS_PORT set, PM2's NODE_APP_INSTANCE (0, 1, ...) gives each instance its own port:
    // METRICS_PORT + NODE_APP_INSTANCE. Nothing to configure here.
    merge_logs: true, // every instance's JSON lines in one file; no log_type: 'json' wrapping
    env: { NODE_ENV: 'production' },
  },
];
