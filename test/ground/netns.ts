// The network of a ground with a node: a network namespace of its own, one veth pair to the host,
// host routes to its pod and Service ranges through that veth only (see docs/ground.md).
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { errorOutput } from "./procs.ts";

const run = promisify(execFile);

/** Addresses and names of one ground's network; index N makes every name and range unique. */
export interface NodeNetwork {
  index: number;
  /** `ip netns` name, e.g. wsdb-3; every process of the ground runs in it. */
  netns: string;
  netnsPath: string;
  /** The host's end of the veth pair, and the namespace's. */
  hostVeth: string;
  nodeVeth: string;
  /** 10.251.N.1/30 on the host's end, 10.251.N.2 in the namespace: the node's InternalIP. */
  hostAddress: string;
  nodeAddress: string;
  /** Pods (bridge, host-local IPAM): 10.252.N.0/24, gateway .1. */
  podCidr: string;
  /** Services: 10.253.N.0/24; .1 is the `kubernetes` Service, .10 cluster DNS. */
  serviceCidr: string;
  kubernetesServiceIp: string;
  dnsServiceIp: string;
  /** The kubelet's cgroupRoot under every cgroup v1 hierarchy. */
  cgroupRoot: string;
}

/**
 * Held while a namespace is added and while /run/netns (a shared mount `ip netns add` makes once) is
 * removed when the last ground is gone (hack/lib/ground-teardown.sh), so neither races the other.
 */
const NETNS_LOCK = "/run/lock";

/** The layout of ground N (1..250). */
export function networkFor(index: number): NodeNetwork {
  return {
    index,
    netns: `wsdb-${index}`,
    netnsPath: `/run/netns/wsdb-${index}`,
    hostVeth: `wsdbh${index}`,
    nodeVeth: `wsdbn${index}`,
    hostAddress: `10.251.${index}.1`,
    nodeAddress: `10.251.${index}.2`,
    podCidr: `10.252.${index}.0/24`,
    serviceCidr: `10.253.${index}.0/24`,
    kubernetesServiceIp: `10.253.${index}.1`,
    dnsServiceIp: `10.253.${index}.10`,
    cgroupRoot: `/wsdb-${index}`,
  };
}

async function ip(args: string[]): Promise<string> {
  try {
    return (await run("ip", args)).stdout;
  } catch (err) {
    throw new Error(`ip ${args.join(" ")}: ${errorOutput(err)}`, { cause: err });
  }
}

/** [first, last] addresses of an IPv4 CIDR as numbers. */
export function cidrRange(cidr: string): [number, number] {
  const [addr, bitsText] = cidr.split("/");
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  const parts = (addr ?? "").split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255) || !(bits >= 0 && bits <= 32)) {
    throw new Error(`not an IPv4 CIDR: ${cidr}`);
  }
  const value = ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
  const size = 2 ** (32 - bits);
  const first = value - (value % size);
  return [first, first + size - 1];
}

/** True when two IPv4 CIDRs share an address. */
export function cidrsOverlap(a: string, b: string): boolean {
  const [a0, a1] = cidrRange(a);
  const [b0, b1] = cidrRange(b);
  return a0 <= b1 && b0 <= a1;
}

interface RouteJson {
  dst?: string;
  dev?: string;
  gateway?: string;
}

/** The host's IPv4 routes (every table), as CIDRs with the device they use. */
async function hostRoutes(): Promise<RouteJson[]> {
  return JSON.parse(await ip(["-j", "-4", "route", "show", "table", "all"])) as RouteJson[];
}

/** The ranges ground N would take, that must not touch any route the host already has. */
function rangesOf(net: NodeNetwork): string[] {
  return [`10.251.${net.index}.0/30`, net.podCidr, net.serviceCidr];
}

/**
 * Checks with `ip route get` that every address the ground talks to leaves through its own veth,
 * never through the host's default route; throws naming the first that does not.
 */
export async function checkRoutes(net: NodeNetwork): Promise<void> {
  const probes = [net.nodeAddress, net.podCidr.replace(/0\/24$/, "7"), net.kubernetesServiceIp, net.dnsServiceIp];
  for (const address of probes) {
    const [route] = JSON.parse(await ip(["-j", "route", "get", address])) as RouteJson[];
    if (route?.dev !== net.hostVeth) {
      throw new Error(`refusing to start: ${address} would leave through ${route?.dev ?? "no route"}${route?.gateway ? ` via ${route.gateway}` : ""}, not the ground's ${net.hostVeth}`);
    }
  }
  // Nothing inside may reach further than the host's end of the veth.
  const inside = JSON.parse(await ip(["-n", net.netns, "-j", "route", "show"])) as RouteJson[];
  const wide = inside.find((r) => r.dst === "default" || r.gateway !== undefined);
  if (wide) throw new Error(`refusing to start: namespace ${net.netns} has a route to ${wide.dst ?? "?"} via ${wide.gateway ?? wide.dev ?? "?"}`);
}

/**
 * Creates the namespace, the veth pair and the host routes of the first free index from `first`
 * (an index is taken atomically by `ip netns add`), and checks the routes. On any failure what was
 * made is removed again. `first` spreads concurrent grounds apart; collisions only cost a retry.
 */
export async function createNodeNetwork(first: number): Promise<NodeNetwork> {
  const routes = await hostRoutes();
  for (let i = 0; i < 250; i++) {
    const net = networkFor(((first - 1 + i) % 250) + 1);
    if (routes.some((r) => r.dst !== undefined && r.dst !== "default" && rangesOf(net).some((range) => cidrsOverlap(range, r.dst!.includes("/") ? r.dst! : `${r.dst}/32`)))) continue;
    try {
      // Under the lock the teardown takes to remove /run/netns once it is empty (see there).
      await run("flock", [NETNS_LOCK, "ip", "netns", "add", net.netns]);
    } catch {
      continue; // taken by another ground (or left by one that died: its janitor removes it)
    }
    try {
      await ip(["link", "add", net.hostVeth, "type", "veth", "peer", "name", net.nodeVeth, "netns", net.netns]);
      await ip(["addr", "add", `${net.hostAddress}/30`, "dev", net.hostVeth]);
      await ip(["link", "set", net.hostVeth, "up"]);
      await ip(["-n", net.netns, "addr", "add", `${net.nodeAddress}/30`, "dev", net.nodeVeth]);
      await ip(["-n", net.netns, "link", "set", net.nodeVeth, "up"]);
      await ip(["-n", net.netns, "link", "set", "lo", "up"]);
      for (const range of [net.podCidr, net.serviceCidr]) {
        await ip(["route", "add", range, "via", net.nodeAddress, "dev", net.hostVeth]);
      }
      // Processes of the namespace itself (kube-apiserver's aggregator, kubelet probes) reach Service
      // addresses: the route lets a connection start, kube-proxy's DNAT then sends it to a pod. It
      // has no gateway: what no Service answers goes nowhere.
      await ip(["-n", net.netns, "route", "add", net.serviceCidr, "dev", net.nodeVeth, "src", net.nodeAddress]);
      // Pods' traffic is routed by the namespace (per-namespace setting; the host's is untouched).
      await run("nsenter", [`--net=${net.netnsPath}`, "--", "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
      await checkRoutes(net);
      return net;
    } catch (err) {
      await ip(["link", "delete", net.hostVeth]).catch(() => undefined);
      await ip(["netns", "delete", net.netns]).catch(() => undefined);
      throw err;
    }
  }
  throw new Error("no free network for a ground: 250 namespaces wsdb-1..wsdb-250 are taken or their ranges 10.251-253.N are routed");
}

/** `command args` as started inside the ground's network namespace (nsenter execs it: same pid). */
export function inNetns(netnsPath: string | undefined, command: string, args: string[]): [string, string[]] {
  if (netnsPath === undefined) return [command, args];
  return ["nsenter", [`--net=${netnsPath}`, "--", command, ...args]];
}
