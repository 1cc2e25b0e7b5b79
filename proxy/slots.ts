// Which endpoint sits in which slot of a service. Selection is `numgen random mod n` over slots
// 0..n-1, so any assignment is fair; keeping it stable matters for two other reasons: a sync then
// rewrites only the slots that changed, and session affinity (remembered per slot) survives for
// every client whose endpoint stayed. A removed endpoint's slot is refilled by a new endpoint, else
// by the endpoint in the last slot, so the slots stay dense.

/** The slot order for `want` (endpoint ids), as close to `prev` as possible. Pure. */
export function assignSlots(prev: readonly string[] | undefined, want: readonly string[]): string[] {
  if (!prev || prev.length === 0) return [...want];
  const wanted = new Set(want);
  const kept = new Set<string>();
  const slots: (string | undefined)[] = prev.map((id) => {
    if (wanted.has(id) && !kept.has(id)) {
      kept.add(id);
      return id;
    }
    return undefined;
  });
  const fresh = want.filter((id) => !kept.has(id));
  let f = 0;
  for (let i = 0; i < slots.length && f < fresh.length; i++) if (slots[i] === undefined) slots[i] = fresh[f++];
  while (f < fresh.length) slots.push(fresh[f++]);
  // Compact: move the last endpoint into the first hole until the slots are dense.
  for (;;) {
    while (slots.length > 0 && slots[slots.length - 1] === undefined) slots.pop();
    const hole = slots.indexOf(undefined);
    if (hole < 0) break;
    slots[hole] = slots.pop();
  }
  return slots as string[];
}
