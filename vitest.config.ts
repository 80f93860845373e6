import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests import the package by its public name, as users do, straight from source.
    alias: [
      { find: /^redisession$/, replacement: src('index.ts') },
      { find: /^redisession\/express$/, replacement: src('adapters/express.ts') },
      { find: /^redisession\/fastify$/, replacement: src('adapters/fastify.ts') },
      { find: /^redisession\/koa$/, replacement: src('adapters/koa.ts') },
      { find: /^redisession\/internal$/, replacement: src('internal.ts') },
      {
        find: /^redisession-worker$/,
        replacement: fileURLToPath(new URL('./worker/src/worker/index.ts', import.meta.url)),
      },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
