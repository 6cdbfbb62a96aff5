{{/* Cross-value checks the schema cannot express; rendered (as nothing) by NOTES.txt. */}}
{{- define "portal.checks" -}}
{{- if and .Values.ingress.enabled (not (has .Values.ingress.host .Values.allowedHosts)) -}}
{{- fail (printf "ingress.host %q must be one of allowedHosts" .Values.ingress.host) -}}
{{- end -}}
{{- if and .Values.secrets.existingSecret (or .Values.secrets.secretKey .Values.secrets.encryptionKeys) -}}
{{- fail "give either secrets.existingSecret or secrets.secretKey/encryptionKeys, not both" -}}
{{- end -}}
{{- end -}}
