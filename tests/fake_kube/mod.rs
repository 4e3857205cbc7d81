//! A fake Kubernetes API server for `kpsa cluster check`, over real TLS.
//!
//! A test CA (made with rcgen for each server) signs a certificate for
//! `127.0.0.1` and `localhost`; a rustls front terminates TLS and forwards
//! to a wiremock server that is as strict as the API server where kpsa
//! could go wrong:
//!
//! - every request must carry `Authorization: Bearer <token>`, else 401
//!   with a `Status` body, as the API server answers an unknown token;
//! - only `GET /version` and `GET /api/v1/namespaces/{name}` exist; any
//!   other method or path is recorded as a violation (and answered 404 /
//!   405): kpsa must read nothing else and write nothing;
//! - a namespace can be forbidden (403 with the API server's message) or
//!   missing (404 `NotFound`);
//! - faults: 429 with `Retry-After` (API Priority and Fairness) and 503.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.fake-service-account-token";

#[derive(Default)]
pub struct State {
    pub git_version: String,
    /// Namespaces that exist, with all their labels.
    pub namespaces: BTreeMap<String, BTreeMap<String, String>>,
    pub forbidden: BTreeSet<String>,
    /// Statuses answered, once each, before the real answer.
    pub faults: VecDeque<u16>,
    pub log: Vec<String>,
    pub violations: Vec<String>,
}

pub struct FakeKube {
    pub state: Arc<Mutex<State>>,
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    pub port: u16,
    /// The CA that signed the server's certificate (PEM).
    pub ca_pem: String,
    /// A client certificate and key (PEM) the CA signed.
    pub client: (String, String),
    _wiremock: MockServer,
    runtime: tokio::runtime::Runtime,
}

fn status(code: u16, reason: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(code).set_body_json(json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }))
}

struct Api(Arc<Mutex<State>>);

impl Respond for Api {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.0.lock().unwrap();
        let path = req.url.path().to_string();
        s.log.push(format!("{} {path}", req.method));
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if auth != format!("Bearer {TOKEN}") {
            return status(401, "Unauthorized", "Unauthorized");
        }
        if req.method.as_str() != "GET" {
            s.violations.push(format!("{} {path}", req.method));
            return status(
                405,
                "MethodNotAllowed",
                "the server does not allow this method",
            );
        }
        if let Some(code) = s.faults.pop_front() {
            let t = status(
                code,
                "TooManyRequests",
                "too many requests, please try again later",
            );
            return if code == 429 {
                t.insert_header("Retry-After", "1")
            } else {
                t
            };
        }
        if path == "/version" {
            let v = s.git_version.clone();
            let minor = v.split('.').nth(1).unwrap_or_default().to_string();
            return ResponseTemplate::new(200).set_body_json(json!({
                "major": "1", "minor": minor, "gitVersion": v, "platform": "linux/amd64",
            }));
        }
        if let Some(name) = path.strip_prefix("/api/v1/namespaces/") {
            if name.contains('/') || name.is_empty() {
                s.violations.push(format!("GET {path}"));
                return status(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                );
            }
            if s.forbidden.contains(name) {
                return status(
                    403,
                    "Forbidden",
                    &format!(
                        "namespaces \"{name}\" is forbidden: User \"system:serviceaccount:shop:kpsa\" cannot get resource \"namespaces\" in API group \"\" in the namespace \"{name}\""
                    ),
                );
            }
            return match s.namespaces.get(name) {
                Some(labels) => ResponseTemplate::new(200).set_body_json(json!({
                    "kind": "Namespace",
                    "apiVersion": "v1",
                    "metadata": {"name": name, "labels": labels},
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"},
                })),
                None => status(404, "NotFound", &format!("namespaces \"{name}\" not found")),
            };
        }
        s.violations.push(format!("GET {path}"));
        status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }
}

/// A CA, a server certificate and a client certificate it signed, all PEM.
pub struct Pki {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub client_cert_pem: String,
    pub client_key_pem: String,
}

pub fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "kpsa test cluster CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    let cert = params.signed_by(&key, &issuer).unwrap();
    let client_key = KeyPair::generate().unwrap();
    let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
    client
        .distinguished_name
        .push(DnType::CommonName, "kpsa-checker");
    client.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client.signed_by(&client_key, &issuer).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        client_cert_pem: client_cert.pem(),
        client_key_pem: client_key.serialize_pem(),
    }
}

impl FakeKube {
    pub fn start(git_version: &str) -> FakeKube {
        FakeKube::start_with(git_version, false)
    }

    /// With `client_certs`, the TLS handshake requires a client certificate
    /// the test CA signed (as an API server with `--client-ca-file` does
    /// for certificate users); `client` holds one.
    pub fn start_with(git_version: &str, client_certs: bool) -> FakeKube {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let state = Arc::new(Mutex::new(State {
            git_version: git_version.to_string(),
            ..State::default()
        }));
        let wiremock = runtime.block_on(async {
            let server = MockServer::start().await;
            Mock::given(wiremock::matchers::any())
                .respond_with(Api(state.clone()))
                .mount(&server)
                .await;
            server
        });
        let backend: SocketAddr = *wiremock.address();
        let pki = pki();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let certs = rustls::pki_types::CertificateDer::pem_slice_iter(pki.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(pki.key_pem.as_bytes()).unwrap();
        let builder = rustls::ServerConfig::builder();
        let builder = if client_certs {
            let mut roots = rustls::RootCertStore::empty();
            for c in rustls::pki_types::CertificateDer::pem_slice_iter(pki.ca_pem.as_bytes()) {
                roots.add(c.unwrap()).unwrap();
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let config = builder.with_single_cert(certs, key).unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        runtime.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A client that does not trust the CA hangs up here.
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut upstream) = tokio::net::TcpStream::connect(backend).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
                });
            }
        });
        FakeKube {
            state,
            url: format!("https://127.0.0.1:{port}"),
            port,
            ca_pem: pki.ca_pem.clone(),
            client: (pki.client_cert_pem.clone(), pki.client_key_pem.clone()),
            _wiremock: wiremock,
            runtime,
        }
    }

    pub fn namespace(&self, name: &str, labels: &[(&str, &str)]) {
        self.state.lock().unwrap().namespaces.insert(
            name.to_string(),
            labels
                .iter()
                .map(|(k, v)| (format!("pod-security.kubernetes.io/{k}"), v.to_string()))
                .chain([("kubernetes.io/metadata.name".to_string(), name.to_string())])
                .collect(),
        );
    }

    pub fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn violations(&self) -> Vec<String> {
        self.state.lock().unwrap().violations.clone()
    }
}

/// A service-account directory as the kubelet mounts it: token, ca.crt, namespace.
pub fn service_account(dir: &std::path::Path, ca_pem: &str, token: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("token"), token).unwrap();
    std::fs::write(dir.join("ca.crt"), ca_pem).unwrap();
    std::fs::write(dir.join("namespace"), "shop").unwrap();
}

/// A JSON value's string at `path`, for assertions.
pub fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut at = v;
    for p in path {
        at = &at[*p];
    }
    at.as_str().unwrap_or_default()
}
