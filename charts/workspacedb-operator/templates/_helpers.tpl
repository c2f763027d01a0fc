{{/* Chart name, at most 63 characters. */}}
{{- define "workspacedb-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the release's objects: the release name when it already contains the chart name. */}}
{{- define "workspacedb-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "workspacedb-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "workspacedb-operator.labels" -}}
helm.sh/chart: {{ include "workspacedb-operator.chart" . }}
{{ include "workspacedb-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: workspacedb-operator
{{- end }}

{{/* Labels that select the operator's pods. */}}
{{- define "workspacedb-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "workspacedb-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "workspacedb-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "workspacedb-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "workspacedb-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The operator's settings file: values.settings plus the settings the chart owns (metrics port, leader
election, and watchNamespaces / workspaceSelector when set: the RBAC follows them). The lease namespace is not written: the operator takes the pod's namespace (POD_NAMESPACE).
*/}}
{{- define "workspacedb-operator.settingsFile" -}}
{{- $le := .Values.leaderElection }}
{{- $owned := dict
  "metricsHost" "0.0.0.0"
  "metricsPort" (int .Values.metrics.port)
  "leaderElection" (dict
    "enabled" $le.enabled
    "leaseName" $le.leaseName
    "leaseDuration" $le.leaseDuration
    "renewDeadline" $le.renewDeadline
    "retryPeriod" $le.retryPeriod) }}
{{- if hasKey .Values.settings "leaderElection" }}
{{- fail "settings.leaderElection is not allowed: use the chart's leaderElection values" }}
{{- end }}
{{- if hasKey .Values.settings "watchNamespaces" }}
{{- fail "settings.watchNamespaces is not allowed: use the chart's watchNamespaces value (the RBAC follows it)" }}
{{- end }}
{{- if hasKey .Values.settings "workspaceSelector" }}
{{- fail "settings.workspaceSelector is not allowed: use the chart's workspaceSelector value" }}
{{- end }}
{{- if hasKey .Values.settings "dataApi" }}
{{- fail "settings.dataApi is not allowed: use the chart's dataApi values" }}
{{- end }}
{{- $api := .Values.dataApi }}
{{- $_ := set $owned "dataApi" (dict
  "enabled" $api.enabled
  "host" "0.0.0.0"
  "port" (int $api.port)
  "certFile" "/var/run/workspacedb/data-api/tls.crt"
  "keyFile" "/var/run/workspacedb/data-api/tls.key"
  "statementTimeout" $api.statementTimeout
  "maxResponseBytes" (int $api.maxResponseBytes)
  "maxConcurrentRequests" (int $api.maxConcurrentRequests)
  "maxConcurrentRequestsPerUser" (int $api.maxConcurrentRequestsPerUser)) }}
{{- include "workspacedb-operator.checkWatchNamespaces" . }}
{{- with .Values.watchNamespaces }}
{{- $_ := set $owned "watchNamespaces" . }}
{{- end }}
{{- with .Values.workspaceSelector }}
{{- $_ := set $owned "workspaceSelector" (toString .) }}
{{- end }}
{{- toYaml (merge $owned (deepCopy .Values.settings)) }}
{{- end }}

{{/* Fails unless watchNamespaces is a list of namespace names; renders nothing. */}}
{{- define "workspacedb-operator.checkWatchNamespaces" -}}
{{- with .Values.watchNamespaces }}
{{- if not (kindIs "slice" .) }}
{{- fail "watchNamespaces must be a list of namespace names, e.g. --set 'watchNamespaces={team-a,team-b}'" }}
{{- end }}
{{- range . }}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" (toString .)) }}
{{- fail (printf "watchNamespaces: %q is not a namespace name" (toString .)) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* The Secret holding the data API's serving certificate (tls.crt, tls.key) and CA (ca.crt). */}}
{{- define "workspacedb-operator.dataApiSecretName" -}}
{{- .Values.dataApi.certificate.secretName | default (printf "%s-data-api-tls" (include "workspacedb-operator.fullname" .)) }}
{{- end }}
