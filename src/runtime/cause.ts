// Finding an error of a given class in an error's `cause` chain (errors are wrapped with context on the way up).

/** True if `err`, or an error in its `cause` chain (at most 10 deep), is an instance of `type`. */
export function inCauseChain(err: unknown, type: abstract new (...args: never[]) => Error): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 10 && current instanceof Error; depth++) {
    const { cause } = current;
    if (current instanceof type) return true;
    current = cause;
  }
  return false;
}
