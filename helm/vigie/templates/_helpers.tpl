{{/* The chart's name, and the release's full name (63 characters at most). */}}
{{- define "vigie.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "vigie.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "vigie.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vigie.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "vigie.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{ include "vigie.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Vigie's configuration file: what the chart sets, merged under .Values.config. */}}
{{- define "vigie.config" -}}
{{- $base := dict
  "data_dir" "/var/lib/vigie"
  "grpc_address" (printf "0.0.0.0:%d" (int .Values.ports.grpc))
  "http_address" (printf "0.0.0.0:%d" (int .Values.ports.http))
  "external_url" (default (printf "%s://%s.%s.svc:%d" (ternary "https" "http" .Values.tls.enabled) (include "vigie.fullname" .) .Release.Namespace (int .Values.ports.http)) .Values.externalUrl)
  "log" (dict "level" .Values.log.level "format" .Values.log.format) -}}
{{- if .Values.policy }}
{{- $_ := set $base "policy_file" "/etc/vigie/policy.yaml" }}
{{- end }}
{{- if .Values.tls.enabled }}
{{- $_ := set $base "tls" (dict "cert_file" "/etc/vigie/tls/tls.crt" "key_file" "/etc/vigie/tls/tls.key") }}
{{- end }}
{{- if .Values.bearerTokenSecret }}
{{- $_ := set $base "auth" (dict "bearer_token_file" "/etc/vigie/auth/token") }}
{{- end }}
{{- $_ := set $base "privacy" (dict "secret_file" "/etc/vigie/privacy/secret") }}
{{- if .Values.kafka.enabled }}
{{- $topics := list }}
{{- range .Values.kafka.topics }}
{{- $topics = append $topics (dict "name" .name "format" .format) }}
{{- end }}
{{- $kafka := dict
  "brokers" (required "kafka.brokers is required when kafka.enabled" .Values.kafka.brokers)
  "group_id" .Values.kafka.groupId
  "topics" $topics
  "dead_letter_topic" .Values.kafka.deadLetterTopic
  "panes_topic" .Values.kafka.panesTopic
  "properties" .Values.kafka.properties }}
{{- $_ := set $base "kafka_ingest" $kafka }}
{{- end }}
{{- mustMergeOverwrite $base (deepCopy .Values.config) | toYaml }}
{{- end }}

{{/* The Secret holding the privacy secret: the operator's, or the chart's. */}}
{{- define "vigie.privacySecret" -}}
{{- default (printf "%s-privacy" (include "vigie.fullname" .)) .Values.privacy.existingSecret }}
{{- end }}
