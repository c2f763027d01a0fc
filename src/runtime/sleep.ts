// A timer that can be ended early, so loops that wait between retries stop promptly on shutdown.

/** Sleeps `ms`; `wake()` ends the sleep at once (idempotent). */
export function wakeableSleep(ms: number): { done: Promise<void>; wake: () => void } {
  let wake: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(end, ms);
    function end(): void {
      clearTimeout(timer);
      resolve();
    }
    wake = end;
  });
  return { done, wake };
}
