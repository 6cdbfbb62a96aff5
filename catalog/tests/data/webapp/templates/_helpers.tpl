{{- define "webapp.fullname" -}}
{{ .Release.Name }}-webapp
{{- end -}}
