{{/* The chart's name, at most 63 characters. */}}
{{- define "portal.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* A fully qualified name for the release's objects. */}}
{{- define "portal.fullname" -}}
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

{{- define "portal.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels every object carries. */}}
{{- define "portal.labels" -}}
helm.sh/chart: {{ include "portal.chart" . }}
app.kubernetes.io/name: {{ include "portal.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: portal
{{- end -}}

{{/* Selector labels of one component: pass (dict "ctx" $ "component" "web"). */}}
{{- define "portal.selectorLabels" -}}
app.kubernetes.io/name: {{ include "portal.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "portal.componentLabels" -}}
{{ include "portal.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "portal.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "portal.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "portal.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The Secret every process reads its secrets from. */}}
{{- define "portal.secretName" -}}
{{- default (include "portal.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "portal.postgresqlHost" -}}{{ include "portal.fullname" . }}-postgresql{{- end -}}
{{- define "portal.redisHost" -}}{{ include "portal.fullname" . }}-redis{{- end -}}

{{/* DATABASE_URL / REDIS_URL as the chart's Secret holds them. */}}
{{- define "portal.databaseUrl" -}}
{{- if .Values.postgresql.bundled.enabled -}}
{{- printf "postgres://portal:%s@%s:5432/portal" (required "postgresql.bundled.password is required with the bundled PostgreSQL" .Values.postgresql.bundled.password | urlquery) (include "portal.postgresqlHost" .) -}}
{{- else -}}
{{- required "database.url is required (or enable postgresql.bundled, or give secrets.existingSecret)" .Values.database.url -}}
{{- end -}}
{{- end -}}

{{- define "portal.redisUrl" -}}
{{- if .Values.redis.bundled.enabled -}}
{{- printf "redis://%s:6379/0" (include "portal.redisHost" .) -}}
{{- else -}}
{{- required "redis.url is required (or enable redis.bundled, or give secrets.existingSecret)" .Values.redis.url -}}
{{- end -}}
{{- end -}}

{{/* Environment of every portal process: plain settings, then the secrets by reference. */}}
{{- define "portal.env" -}}
- name: PORTAL_ENV
  value: production
- name: ALLOWED_HOSTS
  value: {{ join "," .Values.allowedHosts | quote }}
- name: CSRF_TRUSTED_ORIGINS
  value: {{ join "," .Values.csrfTrustedOrigins | quote }}
- name: SECURE_SSL_REDIRECT
  value: {{ .Values.secureSslRedirect | quote }}
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- range $name, $value := .Values.extraEnv }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- range list "SECRET_KEY" "PORTAL_ENCRYPTION_KEYS" "DATABASE_URL" "REDIS_URL" }}
- name: {{ . }}
  valueFrom:
    secretKeyRef:
      name: {{ include "portal.secretName" $ }}
      key: {{ . }}
{{- end }}
{{- if or .Values.secrets.metricsToken .Values.secrets.existingSecret }}
- name: PORTAL_METRICS_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "portal.secretName" . }}
      key: PORTAL_METRICS_TOKEN
      optional: true
{{- end }}
{{- end -}}

{{/* Pod-level settings shared by every portal pod. */}}
{{- define "portal.podSpecCommon" -}}
serviceAccountName: {{ include "portal.serviceAccountName" . }}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end -}}

{{/* A writable /tmp and /app/var under a read-only root file system. */}}
{{- define "portal.volumes" -}}
volumes:
  - name: tmp
    emptyDir: {}
  - name: var
    emptyDir: {}
{{- end -}}
{{- define "portal.volumeMounts" -}}
volumeMounts:
  - name: tmp
    mountPath: /tmp
  - name: var
    mountPath: /app/var
{{- end -}}

{{/* Restart pods when the chart's Secret changes. */}}
{{- define "portal.podAnnotations" -}}
{{- if not .Values.secrets.existingSecret }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}
{{- end -}}
