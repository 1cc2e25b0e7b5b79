// Small promise combinators shared by the daemons.

/**
 * `p`'s value, or undefined once `ms` have passed (p keeps running; a later rejection is dropped).
 * For best-effort cleanup calls (cancel a watch, revoke a lease) that must not hold up a shutdown.
 */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

/** Runs `fn` over `items` with at most `limit` (at least 1) in flight; resolves with the failures, in the order they happened. */
export async function mapLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (t: T) => Promise<void>,
): Promise<{ item: T; err: unknown }[]> {
  const failed: { item: T; err: unknown }[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed.push({ item, err });
      }
    }
  };
  const workers = Math.min(Math.max(1, Math.floor(limit) || 1), items.length);
  await Promise.all(Array.from({ length: workers }, worker));
  return failed;
}
