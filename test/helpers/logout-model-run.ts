import fc from 'fast-check';
import { type laneRunner, type Scenario, scenarios } from './logout-model.js';

/** Interleavings per configuration: LOGOUT_MODEL_RUNS, else the CI default. */
export function modelBudget(ciDefault = 3000): number {
  const n = Number(process.env.LOGOUT_MODEL_RUNS);
  return Number.isInteger(n) && n > 0 ? n : ciDefault;
}

export interface ModelResult {
  runs: number;
  commands: number;
  /** Scenarios with at least one violation. */
  violating: number;
  /** The first 20 of them, with their scenario and the oracle's findings. */
  violations: string[];
}

/**
 * Runs `runs` random scenarios (one interleaving each), spread over the lanes (each its own
 * clients, so lanes run side by side), and prints one line with the counts. The first failing
 * scenarios are kept with their seed and scenario for replay.
 */
export async function runModel(
  lanes: Array<ReturnType<typeof laneRunner>>,
  opts: { label: string; withLegacy: boolean; runs: number },
): Promise<ModelResult> {
  const seed = Number(process.env.LOGOUT_MODEL_SEED) || Math.floor(Math.random() * 2 ** 31);
  const all = fc.sample(scenarios(opts.withLegacy), { seed, numRuns: opts.runs });
  const violations: string[] = [];
  let violating = 0;
  let commands = 0;
  let next = 0;
  const started = Date.now();
  await Promise.all(
    lanes.map(async (lane) => {
      for (let i = next++; i < all.length; i = next++) {
        const sc = all[i] as Scenario;
        const r = await lane.run(sc);
        commands += r.commands;
        if (r.violations.length > 0) violating++;
        if (r.violations.length > 0 && violations.length < 20) {
          violations.push(`scenario ${i} of seed ${seed}: ${JSON.stringify(sc)}\n  ${r.violations.join('\n  ')}`);
        }
      }
    }),
  );
  console.log(
    `[logout-model] ${opts.label}: ${all.length} interleavings (${commands} commands scheduled) in ` +
      `${Date.now() - started} ms, ${violating} violating; seed ${seed}`,
  );
  return { runs: all.length, commands, violating, violations };
}
