// After tsc: the Lua scripts are read at run time next to the compiled code (dist/redis ->
// dist/lua), and the CLI entry must be executable for `./dist/cli/main.js` and npm's bin link.
import { chmodSync, cpSync } from 'node:fs';

cpSync(new URL('../src/lua', import.meta.url), new URL('../dist/lua', import.meta.url), { recursive: true });
chmodSync(new URL('../dist/cli/main.js', import.meta.url), 0o755);
