// PM2 process file for the cleanup worker: `pm2 start ecosystem.config.js` (after `npm ci`, which
// builds dist/). Settings come from the environment or a .env file next to this one (.env.example).
// A named `apps` export, so PM2's require() of this ES module works on Node >= 20.19.

const instances = Number(process.env.WORKER_INSTANCES ?? 2);
// PM2 sends SIGINT, then SIGKILL after kill_timeout: leave the worker time to finish its batch
// and park its shard (SHUTDOWN_TIMEOUT, 25 s by default), plus a margin.
const shutdownMs = 30_000;

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
    kill_timeout: shutdownMs,
    autorestart: true,
    exp_backoff_restart_delay: 200,
    max_memory_restart: '512M',
    merge_logs: true, // every instance's JSON lines in one file; no log_type: 'json' wrapping
    env: { NODE_ENV: 'production' },
  },
];
