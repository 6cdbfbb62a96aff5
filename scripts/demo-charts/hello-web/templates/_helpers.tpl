{{- define "hello-web.name" -}}
{{ .Release.Name }}-hello
{{- end -}}
