// Every error that crosses a module boundary is a FlannelError: callers decide on `code` and
// `transient`, never on the message text.
export abstract class FlannelError extends Error {
  abstract readonly code: string;
  /** True when retrying the same operation later may succeed (etcd down, lost race). */
  readonly transient: boolean = false;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

export const isTransient = (e: unknown): boolean => e instanceof FlannelError && e.transient;

/** The message of an unknown thrown value, for logs. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
