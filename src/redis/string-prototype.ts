/*
 * Keeps String#charCodeAt fast in a process that loads ioredis.
 *
 * ioredis 6 (its RESP decoder's VerbatimString) and node-redis 5 declare `class ... extends String`.
 * In V8 (Node 20) that leaves String.prototype a slow prototype, and optimized code then stops
 * inlining String.prototype methods, process-wide: a 32-character charCodeAt loop (a session id's
 * key, the compact codec's strings) goes from ~60 ns to ~300 ns. A for-in over a string makes V8
 * turn the prototypes of String wrappers fast again (JSObject::MakePrototypesFast), for good: it
 * holds whether it runs before or after those classes are declared. express-session's `debug`
 * happens to do the same (selectColor's `for (i in namespace)`); a fastify or koa app does not.
 *
 * No observable effect: enumerating an empty string's indexes visits nothing.
 */
// (a string primitive on purpose, which TypeScript does not allow in a for-in without a cast)
for (const index in '' as unknown as object) void index;
