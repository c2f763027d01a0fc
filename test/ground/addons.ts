// What a ground with a node adds to the cluster: CoreDNS (cluster names only) and a Service through
// which pods reach the ground's PostgreSQL by a DNS name.
import type { NodeNetwork } from "./netns.ts";
import { CLUSTER_DOMAIN } from "./kube.ts";

/** Namespace of the PostgreSQL Service. */
export const GROUND_NAMESPACE = "wsdb-ground";

/** The DNS name pods use for the ground's PostgreSQL. */
export const POSTGRES_SERVICE_HOST = `postgres.${GROUND_NAMESPACE}.svc.${CLUSTER_DOMAIN}`;
export const POSTGRES_SERVICE_PORT = 5432;

/**
 * CoreDNS as clusters run it (ServiceAccount, ClusterRole, ConfigMap, Deployment, the kube-dns
 * Service at the address the kubelet hands to pods), answering cluster names only: no `forward`,
 * so no query ever leaves the namespace.
 */
export function corednsManifests(net: NodeNetwork, image: string): string {
  return `
apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:coredns"}
rules:
  - apiGroups: [""]
    resources: [endpoints, services, pods, namespaces]
    verbs: [list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
subjects: [{kind: ServiceAccount, name: coredns, namespace: kube-system}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:53 {
        errors
        health
        ready
        kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {
            pods insecure
            ttl 5
        }
        cache 5
        loop
    }
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: coredns
  namespace: kube-system
  labels: {k8s-app: kube-dns}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      priorityClassName: system-cluster-critical
      dnsPolicy: Default
      containers:
        - name: coredns
          image: ${image}
          imagePullPolicy: Never
          args: ["-conf", "/etc/coredns/Corefile"]
          ports:
            - {name: dns, containerPort: 53, protocol: UDP}
            - {name: dns-tcp, containerPort: 53, protocol: TCP}
          readinessProbe:
            httpGet: {path: /ready, port: 8181}
            periodSeconds: 2
          livenessProbe:
            httpGet: {path: /health, port: 8080}
          securityContext:
            runAsUser: 65534
            runAsGroup: 65534
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
          volumeMounts: [{name: config, mountPath: /etc/coredns, readOnly: true}]
      volumes: [{name: config, configMap: {name: coredns}}]
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns}
spec:
  clusterIP: ${net.dnsServiceIp}
  selector: {k8s-app: kube-dns}
  ports:
    - {name: dns, port: 53, protocol: UDP}
    - {name: dns-tcp, port: 53, protocol: TCP}
`;
}

/** A Service without selector and its EndpointSlice: the ground's PostgreSQL at the node's address. */
export function postgresServiceManifests(net: NodeNetwork, port: number): string {
  return `
apiVersion: v1
kind: Namespace
metadata: {name: ${GROUND_NAMESPACE}}
---
apiVersion: v1
kind: Service
metadata: {name: postgres, namespace: ${GROUND_NAMESPACE}}
spec:
  ports: [{name: postgres, port: ${POSTGRES_SERVICE_PORT}, targetPort: ${port}, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: postgres-ground
  namespace: ${GROUND_NAMESPACE}
  labels: {kubernetes.io/service-name: postgres}
addressType: IPv4
endpoints: [{addresses: ["${net.nodeAddress}"]}]
ports: [{name: postgres, port: ${port}, protocol: TCP}]
`;
}
