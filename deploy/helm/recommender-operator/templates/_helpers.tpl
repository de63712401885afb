{{/* Chart name, overridable. */}}
{{- define "recommender-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: the release name alone when it already contains the chart name, so the default
release "recommender-operator" yields "recommender-operator", not a doubled name.
*/}}
{{- define "recommender-operator.fullname" -}}
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

{{- define "recommender-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "recommender-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "recommender-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "recommender-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/part-of: recommender-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "recommender-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "recommender-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository@digest when a digest is set (the tag is then ignored), else repository:tag. */}}
{{- define "recommender-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
The watched namespaces as a JSON list (use with fromJsonArray): watchNamespaces, or the older
watchNamespace as a one-element list. Empty: all namespaces.
*/}}
{{- define "recommender-operator.watchNamespaces" -}}
{{- if and .Values.watchNamespaces .Values.watchNamespace }}
{{- fail "set watchNamespaces or the older watchNamespace, not both" }}
{{- end }}
{{- if .Values.watchNamespaces }}
{{- .Values.watchNamespaces | toJson }}
{{- else if .Values.watchNamespace }}
{{- list .Values.watchNamespace | toJson }}
{{- else }}
{{- list | toJson }}
{{- end }}
{{- end }}

{{/*
The mounted tenancy file and the metrics certificate directory: one place for the paths the
Deployment mounts and passes to the operator.
*/}}
{{- define "recommender-operator.tenancyDir" -}}/etc/recommender-operator/tenancy{{- end }}
{{- define "recommender-operator.metricsCertDir" -}}/etc/recommender-operator/metrics-certs{{- end }}

{{/*
runAsUser and runAsGroup from .Values.securityContext, each only when set (int64: a number from a
values file arrives as a float, which would print as 1.00068e+09).
*/}}
{{- define "recommender-operator.ids" -}}
{{- if not (kindIs "invalid" .runAsUser) }}
runAsUser: {{ .runAsUser | int64 }}
{{- end }}
{{- if not (kindIs "invalid" .runAsGroup) }}
runAsGroup: {{ .runAsGroup | int64 }}
{{- end }}
{{- end }}
