{{/* Chart name, truncated to 63 characters. */}}
{{- define "kube-offers.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified app name; the release name if it already contains the chart name. */}}
{{- define "kube-offers.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "kube-offers.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "kube-offers.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kube-offers
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "kube-offers.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kube-offers.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kube-offers.controllerSelectorLabels" -}}
{{ include "kube-offers.selectorLabels" . }}
app.kubernetes.io/component: controller
{{- end -}}

{{- define "kube-offers.agentSelectorLabels" -}}
{{ include "kube-offers.selectorLabels" . }}
app.kubernetes.io/component: agent
{{- end -}}

{{- define "kube-offers.controllerServiceAccount" -}}
{{- if .Values.controller.serviceAccount.create -}}
{{- default (printf "%s-controller" (include "kube-offers.fullname" .)) .Values.controller.serviceAccount.name -}}
{{- else -}}
{{- required "controller.serviceAccount.name is required when controller.serviceAccount.create is false" .Values.controller.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "kube-offers.agentServiceAccount" -}}
{{- if .Values.agent.serviceAccount.create -}}
{{- default (printf "%s-agent" (include "kube-offers.fullname" .)) .Values.agent.serviceAccount.name -}}
{{- else -}}
{{- required "agent.serviceAccount.name is required when agent.serviceAccount.create is false" .Values.agent.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "kube-offers.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* "true" when the controller's config file carries credentials (the Mesos API's). */}}
{{- define "kube-offers.configInSecret" -}}
{{- if and .Values.mesos.enabled .Values.mesos.config.authentication -}}true{{- else -}}false{{- end -}}
{{- end -}}

{{/* Namespaces where Mesos frameworks live: the principal map's values and the default. */}}
{{- define "kube-offers.mesosNamespaces" -}}
{{- $ns := list -}}
{{- range $_, $v := (.Values.mesos.config.namespaces | default dict) }}{{ $ns = append $ns $v }}{{ end -}}
{{- with .Values.mesos.config.defaultNamespace }}{{ $ns = append $ns . }}{{ end -}}
{{- $ns | uniq | sortAlpha | join "," -}}
{{- end -}}
