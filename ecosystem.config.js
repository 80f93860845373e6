// PM2 process file for the cleanup worker: `pm2 start ecosystem.config.js` (after `npm ci`, which
// builds dist/). Settings come from the environment, or a .env file next to this one (the
// environment wins); .env.example lists them. A named `apps` export, so PM2's require() of this ES
// module works on Node >= 20.19. The .env reader and the duration parser are the worker's own
// (from dist/), so PM2 and the worker never read a setting differently.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseDuration } from './dist/worker/duration.js';
import { loadEnvFile } from './dist/worker/env-file.js';

const envFile = join(import.meta.dirname, '.env');
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
    script: './dist/cli/main.js',
    args: 'worker',
    cwd: import.meta.dirname,
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
