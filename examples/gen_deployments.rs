//! Benchmark input: N realistic Deployments as one multi-document stream,
//! each preceded by a Helm-style `# Source:` comment. About 15 % are risky
//! (hostPath, hostNetwork, privileged, added capabilities), like real charts.
//!
//! `cargo run --release --example gen_deployments -- N [clean] > out.yaml`

use std::io::{BufWriter, Write};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    // `clean`: no risky documents, so that results stay small (memory test).
    let clean = std::env::args().nth(2).as_deref() == Some("clean");
    let out = std::io::stdout();
    let mut w = BufWriter::new(out.lock());
    for i in 0..n {
        let risky = !clean && i % 7 == 3;
        let host_network = if risky {
            "      hostNetwork: true\n"
        } else {
            ""
        };
        let privileged = if risky { "true" } else { "false" };
        let caps = if risky {
            "            add: [\"NET_ADMIN\", \"SYS_TIME\"]\n"
        } else {
            ""
        };
        let host_path = if risky {
            "      - name: host\n        hostPath:\n          path: /var/run/docker.sock\n"
        } else {
            ""
        };
        write!(
            w,
            "---
# Source: app-{i}/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  namespace: team-{ns}
  labels:
    app.kubernetes.io/name: app-{i}
    app.kubernetes.io/instance: release-{i}
    app.kubernetes.io/managed-by: Helm
    helm.sh/chart: app-1.2.{i}
  annotations:
    deployment.kubernetes.io/revision: \"3\"
spec:
  replicas: 3
  selector:
    matchLabels:
      app.kubernetes.io/name: app-{i}
  strategy:
    type: RollingUpdate
    rollingUpdate: {{maxSurge: 25%, maxUnavailable: 0}}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: app-{i}
      annotations:
        checksum/config: 4f1c2a9b8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b
        prometheus.io/scrape: \"true\"
    spec:
      serviceAccountName: app-{i}
{host_network}      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        fsGroup: 10001
        seccompProfile:
          type: RuntimeDefault
      containers:
      - name: app
        image: registry.example.com/team/app:{i}.0.1
        imagePullPolicy: IfNotPresent
        args: [\"--port=8080\", \"--log-level=info\", \"--config=/etc/app/config.yaml\"]
        ports:
        - name: http
          containerPort: 8080
          protocol: TCP
        env:
        - name: APP_ENV
          value: production
        - name: DB_PASSWORD
          valueFrom:
            secretKeyRef:
              name: app-{i}-db
              key: password
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        resources:
          requests: {{cpu: 100m, memory: 128Mi}}
          limits: {{cpu: 500m, memory: 512Mi}}
        livenessProbe:
          httpGet: {{path: /healthz, port: http}}
          initialDelaySeconds: 10
          periodSeconds: 10
        readinessProbe:
          httpGet: {{path: /ready, port: http}}
          periodSeconds: 5
        securityContext:
          allowPrivilegeEscalation: false
          privileged: {privileged}
          readOnlyRootFilesystem: true
          capabilities:
            drop: [\"ALL\"]
{caps}        volumeMounts:
        - name: config
          mountPath: /etc/app
        - name: tmp
          mountPath: /tmp
      - name: metrics
        image: registry.example.com/observability/exporter:2.4.1
        ports:
        - name: metrics
          containerPort: 9100
        resources:
          limits: {{cpu: 100m, memory: 64Mi}}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities:
            drop: [\"ALL\"]
      volumes:
      - name: config
        configMap:
          name: app-{i}-config
      - name: tmp
        emptyDir: {{}}
{host_path}",
            ns = i % 20,
        )
        .unwrap();
    }
}
