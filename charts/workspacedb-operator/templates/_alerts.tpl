{{/*
The alerting rules (groups of a Prometheus rule file). Rendered into the PrometheusRule and, by the
tests, into a plain rule file that `promtool test rules` evaluates (test/integration/alerts.test.ts).
Every series is selected by prometheusRule.seriesSelector (default: the metrics Service's job in the
release's namespace). The state gauges are served by the leader only; a standby serves none of them.
*/}}
{{- define "workspacedb-operator.alertGroups" -}}
{{- $rule := .Values.prometheusRule }}
{{- $sel := $rule.seriesSelector | default (printf "job=%q,namespace=%q" (printf "%s-metrics" (include "workspacedb-operator.fullname" .)) .Release.Namespace) }}
{{- $base := required "prometheusRule.runbookBaseUrl is required: where your copy of the repository's docs/runbooks is served (each alert links to <runbookBaseUrl>/<alert>.md)" $rule.runbookBaseUrl | trimSuffix "/" }}
{{- $labels := $rule.alertLabels }}
- name: workspacedb-operator
  rules:
    - alert: WorkspaceDBOperatorDown
      expr: absent(up{ {{- $sel -}} } == 1)
      for: {{ $rule.operatorDownFor }}
      labels:
        severity: critical
        {{- with $labels }}{{ toYaml . | nindent 8 }}{{ end }}
      annotations:
        summary: No workspacedb-operator replica is up
        description: Prometheus has scraped no replica of the operator in {{ .Release.Namespace }} for {{ $rule.operatorDownFor }}; no WorkspaceDatabase is provisioned, repaired or regenerated, and the data API does not answer.
        runbook_url: {{ $base }}/WorkspaceDBOperatorDown.md
    - alert: WorkspaceDBNoLeader
      expr: max(workspacedb_leader{ {{- $sel -}} }) < 1
      for: {{ $rule.noLeaderFor }}
      labels:
        severity: critical
        {{- with $labels }}{{ toYaml . | nindent 8 }}{{ end }}
      annotations:
        summary: Replicas of workspacedb-operator are up but none leads
        description: No replica in {{ .Release.Namespace }} has held the Lease for {{ $rule.noLeaderFor }}; nothing is reconciled.
        runbook_url: {{ $base }}/WorkspaceDBNoLeader.md
    - alert: WorkspaceDBWorkspacesNotReady
      expr: max by (reason) (workspacedb_databases_not_ready_oldest_seconds{ {{- $sel -}} }) > {{ include "workspacedb-operator.seconds" $rule.notReadyFor }}
      for: 1m
      labels:
        severity: warning
        {{- with $labels }}{{ toYaml . | nindent 8 }}{{ end }}
      annotations:
        summary: 'WorkspaceDatabases not Ready for over {{ $rule.notReadyFor }}: {{ "{{" }} $labels.reason {{ "}}" }}'
        description: 'At least one WorkspaceDatabase has been not Ready with reason {{ "{{" }} $labels.reason {{ "}}" }} for {{ "{{" }} $value | humanizeDuration {{ "}}" }}. kubectl get wsdb -A shows which.'
        runbook_url: {{ $base }}/WorkspaceDBWorkspacesNotReady.md
    - alert: WorkspaceDBRegenerationNotApplied
      expr: max(workspacedb_regeneration_oldest_pending_seconds{ {{- $sel -}} }) > {{ include "workspacedb-operator.seconds" $rule.regenerationTimeout }}
      labels:
        severity: critical
        {{- with $labels }}{{ toYaml . | nindent 8 }}{{ end }}
      annotations:
        summary: A password regeneration has not been applied for over {{ $rule.regenerationTimeout }}
        description: 'A regeneration asked for {{ "{{" }} $value | humanizeDuration {{ "}}" }} ago is not applied yet: the old password may still log in.'
        runbook_url: {{ $base }}/WorkspaceDBRegenerationNotApplied.md
    - alert: WorkspaceDBServerUnreachable
      expr: max by (server, reason) (workspacedb_database_server_ready{ {{- $sel -}} }) == 0
      for: {{ $rule.serverUnreachableFor }}
      labels:
        severity: critical
        {{- with $labels }}{{ toYaml . | nindent 8 }}{{ end }}
      annotations:
        summary: 'DatabaseServer {{ "{{" }} $labels.server {{ "}}" }} is not Ready: {{ "{{" }} $labels.reason {{ "}}" }}'
        description: 'The operator cannot reach or use DatabaseServer {{ "{{" }} $labels.server {{ "}}" }} ({{ "{{" }} $labels.reason {{ "}}" }}) for {{ $rule.serverUnreachableFor }}; its workspaces are neither provisioned nor regenerated.'
        runbook_url: {{ $base }}/WorkspaceDBServerUnreachable.md
    - alert: WorkspaceDBDriftRepairedRepeatedly
      expr: sum by (kind) (increase(workspacedb_drift_repairs_total{ {{- $sel -}} }[1h])) > {{ $rule.driftRepairsPerHour }}
      labels:
        severity: warning
        {{- with $labels }}{{ toYaml . | nindent 8 }}{{ end }}
      annotations:
        summary: 'The operator repaired {{ "{{" }} $labels.kind {{ "}}" }} drift over {{ $rule.driftRepairsPerHour }} times in an hour'
        description: 'Something keeps changing {{ "{{" }} $labels.kind {{ "}}" }} state behind the operator ({{ "{{" }} $value | humanize {{ "}}" }} repairs in the last hour).'
        runbook_url: {{ $base }}/WorkspaceDBDriftRepairedRepeatedly.md
{{- end }}

{{/* A Prometheus duration ("30m", "1h30m", "45s") in seconds. */}}
{{- define "workspacedb-operator.seconds" -}}
{{- $d := toString . }}
{{- if not (regexMatch "^([0-9]+[smhd])+$" $d) }}
{{- fail (printf "%q is not a duration such as 30s, 10m, 2h or 1d" $d) }}
{{- end }}
{{- $total := 0 }}
{{- range (regexFindAll "[0-9]+[smhd]" $d -1) }}
{{- $n := int (trimSuffix "s" (trimSuffix "m" (trimSuffix "h" (trimSuffix "d" .)))) }}
{{- $unit := regexFind "[smhd]$" . }}
{{- $mult := get (dict "s" 1 "m" 60 "h" 3600 "d" 86400) $unit }}
{{- $total = add $total (mul $n $mult) }}
{{- end }}
{{- $total }}
{{- end }}
