// Keeps the cluster's authentication settings for extension API servers (a ConfigMap kube-apiserver
// maintains) up to date: read at start, then again every interval; a failed read keeps the last one.
import type { KubeRequester } from "../kube/rest.ts";
import type { Logger } from "../runtime/logger.ts";
import { errorMessage } from "../runtime/logger.ts";
import { AUTHENTICATION_CONFIGMAP, parseAuthenticationConfig, type AuthenticationConfig } from "./authn.ts";

/** The latest authentication settings read from `kube-system/extension-apiserver-authentication`. */
export class ClusterAuthentication {
  readonly #kube: KubeRequester;
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #onChange: ((data: Record<string, string>) => void) | undefined;
  #current: AuthenticationConfig | undefined;
  #data: Record<string, string> | undefined;
  #timer: NodeJS.Timeout | undefined;

  /** `onChange` is told the ConfigMap's data whenever a read finds it changed. */
  constructor(kube: KubeRequester, log: Logger, intervalMs = 60_000, onChange?: (data: Record<string, string>) => void) {
    this.#kube = kube;
    this.#log = log;
    this.#intervalMs = intervalMs;
    this.#onChange = onChange;
  }

  /** The settings, undefined until the first successful read. */
  current(): AuthenticationConfig | undefined {
    return this.#current;
  }

  /** The ConfigMap's data behind {@link current} (a worker thread parses it again), undefined until read. */
  currentData(): Record<string, string> | undefined {
    return this.#data;
  }

  /** Reads once now (a failure is logged and retried at the next interval) and then periodically. */
  async start(): Promise<void> {
    await this.refresh();
    this.#timer = setInterval(() => void this.refresh(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async refresh(): Promise<void> {
    const { namespace, name } = AUTHENTICATION_CONFIGMAP;
    try {
      const cm = await this.#kube.request<{ data?: Record<string, string> }>("GET", `/api/v1/namespaces/${namespace}/configmaps/${name}`, {
        context: `reading ConfigMap ${namespace}/${name} (how the front proxy authenticates to the data API)`,
      });
      const next = parseAuthenticationConfig(cm?.data);
      if (this.#current === undefined) {
        this.#log.info("read the cluster's front-proxy authentication settings", {
          requestHeaderCAs: next.requestHeaderCAs.length,
          allowedNames: next.allowedNames,
          clientCAs: next.clientCAs.length,
        });
      }
      if (next.requestHeaderCAs.length === 0) this.#log.warn(`ConfigMap ${namespace}/${name} has no requestheader-client-ca-file: kube-apiserver runs without --requestheader-client-ca-file, and no request can reach the data API through it`);
      this.#current = next;
      const data = { ...cm?.data };
      const changed = JSON.stringify(data) !== JSON.stringify(this.#data);
      this.#data = data;
      if (changed) this.#onChange?.(data);
    } catch (err) {
      this.#log.warn("could not read the cluster's authentication settings; keeping the last ones", { error: errorMessage(err) });
    }
  }
}
