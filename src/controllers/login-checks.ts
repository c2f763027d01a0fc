// When a pass logs in to check a password for drift: always after a change, otherwise within a per-server budget.

/** Options of {@link LoginChecks}. */
export interface LoginChecksOptions {
  /** Budget of periodic checks per minute and server (a token bucket of that size); 0: none. */
  perMinute: number;
  /**
   * A login checked this recently is not checked again periodically; when the budget cannot check
   * every known login of a server that often, the interval stretches to what it can (so each login
   * gets its turn and none is starved).
   */
  minIntervalMs: number;
  /** Told about every check `due` allows: after a change, or periodic (from the budget). */
  onCheck?: (reason: "change" | "periodic") => void;
  now?: () => number;
}

interface Checked {
  /** The Secret's resourceVersion the last decision was about. */
  version: string;
  /** When its password was last proven by a login (0: never, in this process). */
  at: number;
}

/**
 * Decides which logins a pass proves with a real login (see rotation.ts, verifyLogin). A pass that
 * changed something, or follows a change of the login's Secret, always checks; a pass over a settled
 * workspace (the periodic resync) checks a login only when it was not checked for `minIntervalMs` and
 * its server's budget has a token left — so the number of logins per period is bounded whatever the
 * number of workspaces, and every login is checked in turn. Kept in memory only: after a restart the
 * first checks come from the budget.
 */
export class LoginChecks {
  readonly #o: Required<Omit<LoginChecksOptions, "onCheck">>;
  readonly #onCheck: (reason: "change" | "periodic") => void;
  readonly #checked = new Map<string, Checked>();
  /** Known logins per server (the length of a full round of checks). */
  readonly #known = new Map<string, number>();
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(options: LoginChecksOptions) {
    this.#o = { now: Date.now, ...options };
    this.#onCheck = options.onCheck ?? (() => undefined);
  }

  /**
   * Whether to check `username` on `server` now. `version` identifies the Secret's content (its
   * resourceVersion); `settled` says the pass found nothing to change so far.
   */
  due(server: string, username: string, version: string, settled: boolean): boolean {
    const key = `${server}\u0000${username}`;
    const last = this.#checked.get(key);
    if (!settled || (last !== undefined && last.version !== version)) {
      this.#onCheck("change");
      return true;
    }
    const now = this.#o.now();
    if (last !== undefined && last.at > 0 && now - last.at < this.#interval(server)) return false;
    if (!this.#take(server, now)) {
      // Remember the Secret's version: a later change of it is then checked at once.
      if (last === undefined) this.#record(server, key, { version, at: 0 });
      return false;
    }
    this.#onCheck("periodic");
    return true;
  }

  /** Records that `username`'s password (Secret `version`) was just proven or set. */
  checked(server: string, username: string, version: string): void {
    this.#record(server, `${server}\u0000${username}`, { version, at: this.#o.now() });
  }

  /** Forgets a login (its workspace was deleted). */
  forget(server: string, username: string): void {
    if (this.#checked.delete(`${server}\u0000${username}`)) this.#known.set(server, (this.#known.get(server) ?? 1) - 1);
  }

  #record(server: string, key: string, checked: Checked): void {
    if (!this.#checked.has(key)) this.#known.set(server, (this.#known.get(server) ?? 0) + 1);
    this.#checked.set(key, checked);
  }

  /** How long a checked login waits for its next periodic check on `server`. */
  #interval(server: string): number {
    const perMinute = this.#o.perMinute;
    const round = perMinute > 0 ? ((this.#known.get(server) ?? 0) * 60_000) / perMinute : Infinity;
    return Math.max(this.#o.minIntervalMs, round);
  }

  #take(server: string, now: number): boolean {
    const size = this.#o.perMinute;
    if (size <= 0) return false;
    const bucket = this.#buckets.get(server) ?? { tokens: size, at: now };
    bucket.tokens = Math.min(size, bucket.tokens + ((now - bucket.at) * size) / 60_000);
    bucket.at = now;
    this.#buckets.set(server, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
