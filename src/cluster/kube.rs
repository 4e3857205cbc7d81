//! A read-only Kubernetes API client for what `kpsa cluster check` needs:
//! `GET /version` and `GET /api/v1/namespaces/{name}`.
//!
//! Credentials come from the pod's service account (in cluster) or from a
//! kubeconfig (a bearer token, or a client certificate). TLS is always
//! verified against the cluster's CA only: there is no way to turn it off,
//! and a kubeconfig's `insecure-skip-tls-verify` is an error. A kubeconfig
//! that names a credential program (`exec`, `auth-provider`) is refused:
//! kpsa runs no program it did not choose.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;

use crate::publish::http::{Answer, ApiError, Calls, Retry, Verdict};

/// Where the service account's files are in a pod.
pub const SERVICEACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// A connection to one cluster's API server.
pub struct Cluster {
    /// `https://host:port`, no trailing slash.
    pub server: String,
    /// How the connection was configured, for messages.
    pub origin: String,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    calls: Cell<Calls>,
}

/// A namespace as the API returns it: its `pod-security.kubernetes.io/*`
/// labels (prefix removed), or `None` when it does not exist.
pub type NamespaceLabels = Option<BTreeMap<String, String>>;

impl Cluster {
    /// The pod's own service account: `KUBERNETES_SERVICE_HOST` / `_PORT`,
    /// the token and `ca.crt` in `dir` (`KPSA_SERVICEACCOUNT_DIR` in tests).
    pub fn in_cluster(dir: &Path) -> Result<Cluster, String> {
        let host = std::env::var("KUBERNETES_SERVICE_HOST")
            .ok()
            .filter(|h| !h.is_empty())
            .ok_or(
                "KUBERNETES_SERVICE_HOST is not set: not running in a pod (pass --kubeconfig)",
            )?;
        let port = std::env::var("KUBERNETES_SERVICE_PORT")
            .ok()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "443".into());
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host
        };
        let read = |name: &str| {
            std::fs::read(dir.join(name))
                .map_err(|e| format!("cannot read {}: {e}", dir.join(name).display()))
        };
        let token = String::from_utf8(read("token")?)
            .map_err(|_| "the service account token is not text".to_string())?;
        let ca = read("ca.crt")?;
        Cluster::new(
            format!("https://{host}:{port}"),
            format!("in-cluster service account ({})", dir.display()),
            &ca,
            Credential {
                token: Some(token.trim().to_string()),
                identity: None,
            },
        )
    }

    /// A kubeconfig's current context, or `context`.
    pub fn from_kubeconfig(file: &Path, context: Option<&str>) -> Result<Cluster, String> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let docs = crate::manifest::yaml::parse_documents(&text, 1, Default::default())
            .map_err(|e| format!("{}:{}: {}", file.display(), e.pos.line, e.message))?;
        let doc = docs
            .first()
            .ok_or_else(|| format!("{} is empty", file.display()))?;
        let config: KubeConfig = serde_json::from_value(doc.to_json())
            .map_err(|e| format!("{} is not a kubeconfig: {e}", file.display()))?;
        let base = file.parent().unwrap_or(Path::new("."));
        let name = context
            .map(str::to_string)
            .or(config.current_context.clone())
            .filter(|c| !c.is_empty())
            .ok_or_else(|| format!("{} has no current-context; pass --context", file.display()))?;
        let ctx = config
            .contexts
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| format!("{} has no context {name:?}", file.display()))?;
        let cluster = config
            .clusters
            .iter()
            .find(|c| c.name == ctx.context.cluster)
            .ok_or_else(|| {
                format!(
                    "{} has no cluster {:?}",
                    file.display(),
                    ctx.context.cluster
                )
            })?;
        let c = &cluster.cluster;
        if c.insecure_skip_tls_verify {
            return Err(format!(
                "cluster {:?} in {} sets insecure-skip-tls-verify; kpsa always verifies the API server's certificate",
                cluster.name,
                file.display()
            ));
        }
        let ca = match (&c.certificate_authority_data, &c.certificate_authority) {
            (Some(d), _) => decode(d, "certificate-authority-data")?,
            (None, Some(p)) => read_relative(base, p)?,
            (None, None) => {
                return Err(format!(
                    "cluster {:?} in {} names no certificate authority; kpsa verifies the API server against the cluster's CA only",
                    cluster.name,
                    file.display()
                ));
            }
        };
        let user = config
            .users
            .iter()
            .find(|u| u.name == ctx.context.user)
            .map(|u| &u.user);
        let credential = match user {
            None => Credential::default(),
            Some(u) if u.exec.is_some() || u.auth_provider.is_some() => {
                return Err(format!(
                    "user {:?} in {} gets its credentials from a program (exec / auth-provider); kpsa runs no credential plugins: \
                     use a token (kubectl create token) or a client certificate",
                    ctx.context.user,
                    file.display()
                ));
            }
            Some(u) => {
                // Like kubectl: a bearer token and a client certificate may
                // both be given, and both are used.
                let token = match (&u.token, &u.token_file) {
                    (Some(t), _) => Some(t.clone()),
                    (None, Some(f)) => {
                        let t = read_relative(base, f)?;
                        Some(String::from_utf8_lossy(&t).trim().to_string())
                    }
                    (None, None) => None,
                };
                let cert = match (&u.client_certificate_data, &u.client_certificate) {
                    (Some(d), _) => Some(decode(d, "client-certificate-data")?),
                    (None, Some(p)) => Some(read_relative(base, p)?),
                    _ => None,
                };
                let key = match (&u.client_key_data, &u.client_key) {
                    (Some(d), _) => Some(decode(d, "client-key-data")?),
                    (None, Some(p)) => Some(read_relative(base, p)?),
                    _ => None,
                };
                let identity = match (cert, key) {
                    (Some(mut c), Some(k)) => {
                        c.push(b'\n');
                        c.extend(k);
                        Some(c)
                    }
                    (None, None) => None,
                    _ => {
                        return Err(format!(
                            "user {:?} in {} has a client certificate without its key (or the reverse)",
                            ctx.context.user,
                            file.display()
                        ));
                    }
                };
                Credential { token, identity }
            }
        };
        Cluster::new(
            c.server.trim_end_matches('/').to_string(),
            format!("context {name:?} of {}", file.display()),
            &ca,
            credential,
        )
    }

    fn new(server: String, origin: String, ca: &[u8], cred: Credential) -> Result<Cluster, String> {
        if !server.starts_with("https://") {
            return Err(format!(
                "the API server {server:?} is not https; kpsa sends credentials over TLS only"
            ));
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        let roots = reqwest::Certificate::from_pem_bundle(ca)
            .map_err(|e| format!("the cluster CA is not PEM certificates: {e}"))?;
        if roots.is_empty() {
            return Err("the cluster CA holds no certificate".into());
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        let mut builder = reqwest::Client::builder()
            .tls_certs_only(roots)
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("kpsa/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(t) = cred.token {
            let mut v = HeaderValue::from_str(&format!("Bearer {t}"))
                .map_err(|_| "the token is not a valid header value".to_string())?;
            v.set_sensitive(true);
            headers.insert(http::header::AUTHORIZATION, v);
        }
        if let Some(pem) = cred.identity {
            let id = reqwest::Identity::from_pem(&pem)
                .map_err(|e| format!("the client certificate or key cannot be read: {e}"))?;
            builder = builder.identity(id);
        }
        let client = builder
            .default_headers(headers)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Cluster {
            server,
            origin,
            client,
            runtime: crate::publish::http::runtime()?,
            calls: Cell::new(Calls::default()),
        })
    }

    /// The number of requests made.
    pub fn calls(&self) -> Calls {
        self.calls.get()
    }

    /// `GET path`: the body of a 200, `None` for a 404.
    fn get(&self, path: &str, what: &str) -> Result<Option<String>, ApiError> {
        let url = format!("{}{path}", self.server);
        let send = || {
            self.runtime.block_on(async {
                let r = self
                    .client
                    .get(&url)
                    .send()
                    .await
                    .map_err(|e| transport(&e))?;
                let status = r.status();
                let headers = r.headers().clone();
                let body = r.text().await.map_err(|e| transport(&e))?;
                Ok(Answer {
                    status,
                    headers,
                    body,
                })
            })
        };
        let judge = |a: &Answer| match a.status {
            StatusCode::TOO_MANY_REQUESTS => Verdict::Limited,
            s if s.is_server_error() => Verdict::Ambiguous,
            StatusCode::NOT_FOUND => Verdict::Fail(ApiError::Status {
                status: 404,
                message: String::new(),
                what: what.to_string(),
            }),
            s => Verdict::Fail(ApiError::Status {
                status: s.as_u16(),
                message: status_message(&a.body),
                what: what.to_string(),
            }),
        };
        let retry = Retry {
            what: what.to_string(),
            write: false,
            backoff: Duration::from_millis(250),
            calls: &self.calls,
            server: "the API server",
        };
        match retry.run(&send, &judge, &status_message, &|| Ok(false)) {
            Ok(a) => Ok(a.map(|a| a.body)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The cluster's `gitVersion` (`v1.30.2+k3s1`).
    pub fn version(&self) -> Result<String, ApiError> {
        let body = self
            .get("/version", "GET /version")?
            .ok_or_else(|| ApiError::Transport("GET /version: 404 Not Found".into()))?;
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Info {
            git_version: String,
        }
        serde_json::from_str::<Info>(&body)
            .map(|i| i.git_version)
            .map_err(|e| ApiError::Transport(format!("GET /version: not a version answer: {e}")))
    }

    /// A namespace's Pod Security labels, or `None` when it does not exist.
    pub fn namespace(&self, name: &str) -> Result<NamespaceLabels, ApiError> {
        let path = format!("/api/v1/namespaces/{name}");
        let Some(body) = self.get(&path, &format!("GET {path}"))? else {
            return Ok(None);
        };
        #[derive(Deserialize)]
        struct Meta {
            #[serde(default)]
            labels: BTreeMap<String, String>,
        }
        #[derive(Deserialize)]
        struct Namespace {
            metadata: Meta,
        }
        let ns: Namespace = serde_json::from_str(&body)
            .map_err(|e| ApiError::Transport(format!("GET {path}: not a Namespace: {e}")))?;
        Ok(Some(
            ns.metadata
                .labels
                .into_iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix(crate::admission::PREFIX)
                        .map(|k| (k.to_string(), v))
                })
                .collect(),
        ))
    }
}

/// How kpsa authenticates: a bearer token, a client certificate, both, or
/// neither.
#[derive(Default)]
struct Credential {
    token: Option<String>,
    /// PEM certificate chain followed by the key.
    identity: Option<Vec<u8>>,
}

fn transport(e: &reqwest::Error) -> String {
    // The chain names the cause (an untrusted certificate, a refused connection).
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// The `message` of a Kubernetes `Status` answer, else the body's start.
fn status_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| body.chars().take(200).collect())
}

fn decode(data: &str, what: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| format!("{what} is not base64: {e}"))
}

fn read_relative(base: &Path, p: &str) -> Result<Vec<u8>, String> {
    let path: PathBuf = if Path::new(p).is_absolute() {
        PathBuf::from(p)
    } else {
        base.join(p)
    };
    std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct KubeConfig {
    #[serde(default)]
    current_context: Option<String>,
    #[serde(default)]
    clusters: Vec<Named<ClusterEntry>>,
    #[serde(default)]
    contexts: Vec<NamedContext>,
    #[serde(default)]
    users: Vec<NamedUser>,
}

#[derive(Deserialize)]
struct Named<T> {
    name: String,
    cluster: T,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ClusterEntry {
    server: String,
    #[serde(default)]
    certificate_authority: Option<String>,
    #[serde(default)]
    certificate_authority_data: Option<String>,
    #[serde(default)]
    insecure_skip_tls_verify: bool,
}

#[derive(Deserialize)]
struct NamedContext {
    name: String,
    context: ContextEntry,
}

#[derive(Deserialize)]
struct ContextEntry {
    cluster: String,
    #[serde(default)]
    user: String,
}

#[derive(Deserialize)]
struct NamedUser {
    name: String,
    #[serde(default)]
    user: UserEntry,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct UserEntry {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    token_file: Option<String>,
    #[serde(default)]
    client_certificate: Option<String>,
    #[serde(default)]
    client_certificate_data: Option<String>,
    #[serde(default)]
    client_key: Option<String>,
    #[serde(default)]
    client_key_data: Option<String>,
    #[serde(default)]
    exec: Option<serde_json::Value>,
    #[serde(default)]
    auth_provider: Option<serde_json::Value>,
}
