import { setImmediate, setTimeout as sleep } from 'node:timers/promises';

export interface Load {
  /** Messages of the failed steps (the first 50) and how many failed in all. */
  errors: string[];
  failures: number;
  /**
   * Ends the loops and waits for their last step; rejects when `maxMs` had already ended them (the
   * test then ran partly without its load: make maxMs longer).
   */
  stop(): Promise<void>;
}

/**
 * A web load for fault tests: `loops` concurrent loops each running `step` again and again until
 * stop(), or until `maxMs` have passed. The hard stop is there so a test that times out cannot leave
 * its loops spinning against a closed store for the rest of the run (a loop that fails fast
 * against a closed client grows its error list until the test process dies). A step reports a
 * wrong answer by throwing. A step is followed by a `pauseMs` pause (a steady load rather than a
 * flood that starves the processes under test on 2 shared cores), a failed one by `failPauseMs`.
 */
export function startLoad(
  step: () => Promise<void>,
  opts: { loops?: number; maxMs?: number; pauseMs?: number; failPauseMs?: number } = {},
): Load {
  const { loops = 2, maxMs = 100_000, pauseMs = 0, failPauseMs = 0 } = opts;
  const deadline = Date.now() + maxMs;
  let stopped = false;
  const load: Load = {
    errors: [],
    failures: 0,
    async stop() {
      const expired = Date.now() >= deadline;
      stopped = true;
      await running;
      if (expired) throw new Error(`the load ran out of its maxMs (${maxMs} ms) before stop()`);
    },
  };
  const loop = async () => {
    while (!stopped && Date.now() < deadline) {
      try {
        await step();
        if (pauseMs > 0) await sleep(pauseMs);
        else await setImmediate(); // a step that settles at once must not starve the event loop
      } catch (err) {
        load.failures++;
        if (load.errors.length < 50) load.errors.push((err as Error).message);
        await (failPauseMs > 0 ? sleep(failPauseMs) : setImmediate());
      }
    }
  };
  const running = Promise.all(Array.from({ length: loops }, loop));
  return load;
}
