export type Callback<T> = (err: unknown, value?: T) => void;

/**
 * Serves callers that pass a callback (express-session, @fastify/session) and callers that await.
 * With a callback the promise is consumed here and the callback runs on its own tick, so an
 * exception thrown inside it is the caller's, not an unhandled rejection of ours.
 */
export function settle<T>(work: Promise<T>, cb?: Callback<T>): Promise<T> | undefined {
  if (typeof cb !== 'function') return work;
  work.then(
    (value) => process.nextTick(cb, null, value),
    (err: unknown) => process.nextTick(cb, err),
  );
  return undefined;
}
