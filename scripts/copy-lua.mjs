// After tsc: the Lua scripts are read at run time next to the compiled code (dist/redis ->
// dist/lua).
import { cpSync } from 'node:fs';

cpSync(new URL('../src/lua', import.meta.url), new URL('../dist/lua', import.meta.url), { recursive: true });
