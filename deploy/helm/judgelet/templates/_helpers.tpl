{{/* The namespace everything goes in. */}}
{{- define "judgelet.namespace" -}}
{{- if .Values.openfaas.enabled -}}{{ .Values.openfaas.namespace }}{{- else -}}{{ .Values.namespace.name }}{{- end -}}
{{- end -}}

{{/* A function's Deployment and Service name: the function's own behind OpenFaaS. */}}
{{- define "judgelet.functionName" -}}
{{- if .root.Values.openfaas.enabled -}}{{ .name }}{{- else -}}judgelet-{{ .name }}{{- end -}}
{{- end -}}

{{- define "judgelet.labels" -}}
app.kubernetes.io/name: judgelet
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "judgelet.checkTier" -}}
{{- if not (has .Values.tier (list "unprivileged" "namespaces")) -}}
{{- fail (printf "tier must be unprivileged or namespaces, not %q" .Values.tier) -}}
{{- end -}}
{{- end -}}

{{/* The Pod Security level the tier's pods meet. */}}
{{- define "judgelet.podSecurityLevel" -}}
{{- if and (eq .Values.tier "unprivileged") (not .Values.unprivileged.runAsRoot) -}}restricted{{- else if eq .Values.tier "unprivileged" -}}baseline{{- else -}}privileged{{- end -}}
{{- end -}}

{{/* Pod-level settings of the tier. */}}
{{- define "judgelet.podSecurity" -}}
{{- if and (eq .Values.tier "namespaces") .Values.namespaces.userNamespace }}
hostUsers: false
{{- end }}
securityContext:
  seccompProfile:
    type: RuntimeDefault
{{- if and (eq .Values.tier "unprivileged") (not .Values.unprivileged.runAsRoot) }}
  runAsNonRoot: true
  runAsUser: 10001
  runAsGroup: 10001
{{- else }}
  runAsUser: 0
{{- end }}
{{- end -}}

{{/* Container-level settings of the tier. */}}
{{- define "judgelet.containerSecurity" -}}
securityContext:
  readOnlyRootFilesystem: true
{{- if eq .Values.tier "unprivileged" }}
  allowPrivilegeEscalation: false
  capabilities:
    drop: ["ALL"]
{{- if .Values.unprivileged.runAsRoot }}
    add: ["CHOWN", "SETUID", "SETGID", "DAC_OVERRIDE", "KILL"]
{{- end }}
{{- else }}
  # kCTF-style: SYS_ADMIN for namespaces, mounts and the cgroup remount; AppArmor's
  # container profile would refuse the mounts.
  allowPrivilegeEscalation: true
  capabilities:
    add: ["SYS_ADMIN"]
  appArmorProfile:
    type: Unconfined
{{- if .Values.namespaces.userNamespace }}
  procMount: Unmasked
{{- end }}
{{- end }}
{{- end -}}

{{/* What the container runs: the namespaces tier first makes the cgroup tree writable. */}}
{{- define "judgelet.command" -}}
{{- if eq .Values.tier "namespaces" }}
command: ["/usr/local/bin/judgelet-namespaces"]
{{- else }}
command: ["/usr/local/bin/judgelet"]
{{- end }}
{{- end -}}
