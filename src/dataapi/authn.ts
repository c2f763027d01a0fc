// Who is calling the data API: the front proxy's identity headers, trusted only on a connection whose
// client certificate the requestheader CA signed for an allowed name; otherwise a client certificate of
// the cluster's CA; otherwise nobody.
import { X509Certificate } from "node:crypto";
import type { PeerCertificate } from "node:tls";

/** The caller, as a SubjectAccessReview wants it. */
export interface UserInfo {
  name: string;
  uid?: string;
  groups: string[];
  extra: Record<string, string[]>;
}

/**
 * What `kube-system/extension-apiserver-authentication` says about authenticating callers: the
 * front proxy's CA, allowed certificate names and header names, and the CA of users' client
 * certificates.
 */
export interface AuthenticationConfig {
  /** CAs of the front proxy's client certificate (`requestheader-client-ca-file`). */
  requestHeaderCAs: X509Certificate[];
  /** Common names the front proxy's certificate may have; empty: any the CA signed. */
  allowedNames: string[];
  usernameHeaders: string[];
  uidHeaders: string[];
  groupHeaders: string[];
  extraHeaderPrefixes: string[];
  /** CAs of users' client certificates (`client-ca-file`). */
  clientCAs: X509Certificate[];
}

/** The ConfigMap holding the cluster's authentication settings for extension API servers. */
export const AUTHENTICATION_CONFIGMAP = { namespace: "kube-system", name: "extension-apiserver-authentication" } as const;

/** Splits a PEM bundle into certificates (anything unparsable is skipped). */
export function parseCertificates(pem: string | undefined): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const block of (pem ?? "").match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) {
    try {
      out.push(new X509Certificate(block));
    } catch {
      // not a certificate
    }
  }
  return out;
}

function jsonList(text: string | undefined): string[] {
  if (text === undefined || text.trim() === "") return [];
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? parsed.filter((v): v is string => typeof v === "string" && v !== "") : [];
  } catch {
    return [];
  }
}

/** Reads the ConfigMap's data (keys as kube-apiserver writes them). */
export function parseAuthenticationConfig(data: Record<string, string> | undefined): AuthenticationConfig {
  const d = data ?? {};
  return {
    requestHeaderCAs: parseCertificates(d["requestheader-client-ca-file"]),
    allowedNames: jsonList(d["requestheader-allowed-names"]),
    usernameHeaders: jsonList(d["requestheader-username-headers"]),
    uidHeaders: jsonList(d["requestheader-uid-headers"]),
    groupHeaders: jsonList(d["requestheader-group-headers"]),
    extraHeaderPrefixes: jsonList(d["requestheader-extra-headers-prefix"]),
    clientCAs: parseCertificates(d["client-ca-file"]),
  };
}

/** The PEM of every CA a client certificate may chain to (for the TLS server's `ca`). */
export function trustedClientCAs(config: AuthenticationConfig): string[] {
  return [...config.requestHeaderCAs, ...config.clientCAs].map((c) => c.toString());
}

/**
 * The chain TLS verified for a connection, leaf first, or undefined when it was not verified
 * (no certificate, or not signed by a CA the server trusted). `peer` is getPeerCertificate(true).
 */
export function verifiedChain(authorized: boolean, peer: PeerCertificate | undefined): X509Certificate[] | undefined {
  if (!authorized || peer === undefined || peer.raw === undefined) return undefined;
  const chain: X509Certificate[] = [];
  let cert: (PeerCertificate & { issuerCertificate?: PeerCertificate }) | undefined = peer;
  while (cert !== undefined && cert.raw !== undefined && chain.length < 10) {
    chain.push(new X509Certificate(cert.raw));
    const next: (PeerCertificate & { issuerCertificate?: PeerCertificate }) | undefined = cert.issuerCertificate;
    if (next === undefined || next === cert || next.raw?.equals(cert.raw)) break;
    cert = next;
  }
  return chain;
}

/** True when a certificate of `chain` (the leaf excluded) is one of `cas`, and the leaf is valid now. */
function anchoredIn(chain: X509Certificate[], cas: X509Certificate[], now: Date): boolean {
  const leaf = chain[0];
  if (leaf === undefined || cas.length === 0) return false;
  if (now < new Date(leaf.validFrom) || now > new Date(leaf.validTo)) return false;
  const trusted = new Set(cas.map((c) => c.fingerprint256));
  for (let i = 1; i < chain.length; i++) {
    const issuer = chain[i - 1]!;
    const candidate = chain[i]!;
    if (!issuer.checkIssued(candidate) || !issuer.verify(candidate.publicKey)) return false;
    if (trusted.has(candidate.fingerprint256)) return true;
  }
  // A leaf issued directly by a trusted CA whose certificate the chain does not repeat.
  return cas.some((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
}

function commonName(cert: X509Certificate): string {
  return /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] ?? "";
}

function organisations(cert: X509Certificate): string[] {
  return [...cert.subject.matchAll(/(?:^|\n)O=([^\n]*)/g)].map((m) => m[1]!).filter((o) => o !== "");
}

/** The group every authenticated caller is in, as kube-apiserver adds it. */
const AUTHENTICATED = "system:authenticated";

/** Header values by lower-case name, each header's repeated values kept apart (IncomingMessage.headersDistinct). */
export type HeaderValues = Record<string, string[] | undefined>;

function first(headers: HeaderValues, names: string[]): string | undefined {
  for (const name of names) {
    const value = headers[name.toLowerCase()]?.find((v) => v !== "");
    if (value !== undefined) return value;
  }
  return undefined;
}

/** As kube-apiserver: the header name (already lower case) is percent-decoded; what it decodes to keeps its case. */
function decodeExtraKey(raw: string): string {
  const lower = raw.toLowerCase();
  try {
    return decodeURIComponent(lower);
  } catch {
    return lower;
  }
}

/** How a request was authenticated, or why not (for the log; never sent to the caller). */
export type Authentication =
  | { ok: true; user: UserInfo; via: "front-proxy" | "client-certificate" }
  | { ok: false; reason: string };

/**
 * Authenticates one request from its connection's verified chain and its headers, as kube-apiserver's
 * requestheader and x509 authenticators do: identity headers count only on a connection whose leaf
 * chains to a requestheader CA and (when names are configured) has an allowed common name; a leaf of
 * the client CA is its own user (common name) and groups (organisations), and its headers are ignored.
 */
export function authenticate(chain: X509Certificate[] | undefined, headers: HeaderValues, config: AuthenticationConfig, now = new Date()): Authentication {
  if (chain === undefined || chain.length === 0) return { ok: false, reason: "no verified client certificate" };
  const leaf = chain[0]!;
  const cn = commonName(leaf);
  if (anchoredIn(chain, config.requestHeaderCAs, now)) {
    if (config.allowedNames.length === 0 || config.allowedNames.includes(cn)) {
      const name = first(headers, config.usernameHeaders);
      if (name === undefined) return { ok: false, reason: "front proxy request without a user name header" };
      const groups = config.groupHeaders.flatMap((h) => headers[h.toLowerCase()] ?? []).filter((g) => g !== "");
      if (!groups.includes(AUTHENTICATED)) groups.push(AUTHENTICATED);
      // A Map, so that a key such as "__proto__" is a key like any other.
      const extra = new Map<string, string[]>();
      for (const prefix of config.extraHeaderPrefixes.map((p) => p.toLowerCase())) {
        for (const [header, values] of Object.entries(headers)) {
          if (!header.startsWith(prefix) || header.length === prefix.length || values === undefined) continue;
          const key = decodeExtraKey(header.slice(prefix.length));
          extra.set(key, [...(extra.get(key) ?? []), ...values]);
        }
      }
      const uid = first(headers, config.uidHeaders);
      return { ok: true, via: "front-proxy", user: { name, ...(uid === undefined ? {} : { uid }), groups, extra: Object.fromEntries(extra) } };
    }
    if (!anchoredIn(chain, config.clientCAs, now)) return { ok: false, reason: `front proxy certificate "${cn}" is not among the allowed names` };
  }
  if (anchoredIn(chain, config.clientCAs, now) && cn !== "") {
    return { ok: true, via: "client-certificate", user: { name: cn, groups: [...organisations(leaf), AUTHENTICATED], extra: {} } };
  }
  return { ok: false, reason: "client certificate not signed by a trusted CA" };
}
