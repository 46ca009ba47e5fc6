{{/* Labels of one component: name and component, then the common ones. */}}
{{- define "pssp.labels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/part-of: pssp
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels: immutable, so never the common labels. */}}
{{- define "pssp.selector" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* The service's image: pinned by digest when there is one. */}}
{{- define "pssp.image" -}}
{{- $i := .Values.image -}}
{{- if $i.digest -}}
{{ $i.repository }}@{{ $i.digest }}
{{- else if $i.tag -}}
{{ $i.repository }}:{{ $i.tag }}
{{- else -}}
{{ $i.repository }}:{{ .Chart.AppVersion }}
{{- end -}}
{{- end }}

{{/* metadata.annotations of every object, with extra ones (a dict). */}}
{{- define "pssp.annotations" -}}
{{- $all := merge (dict) (.extra | default dict) .root.Values.commonAnnotations -}}
{{- with $all -}}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The hardened pod and container settings every pod shares. */}}
{{- define "pssp.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop:
    - ALL
{{- end }}
