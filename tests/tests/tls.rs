//! The real binary terminating TLS itself (`[server.tls]`): TLS 1.2 and 1.3 clients get in
//! and every response carries HSTS; TLS 1.1 and plain HTTP on the same port are refused; a
//! SIGHUP after the certificate files are replaced serves the new certificate to new
//! connections without closing the listener or the connections already open, and a broken
//! replacement keeps the certificate in use. SIGTERM still stops it with connections open.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::{agent_command, ensure_models, init_key, RunningAgent};
use rcgen::CertifiedKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{self, ClientConfig, ProtocolVersion, RootCertStore, SupportedProtocolVersion};
use tokio_rustls::TlsConnector;

const HSTS: &str = "max-age=31536000; includeSubDomains";

fn new_pair() -> CertifiedKey<rcgen::KeyPair> {
    rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap()
}

/// Writes the pair where the service reads it, each file replaced by a rename (as an operator's
/// tooling or cert-manager does), the key mode 0600.
fn install(dir: &Path, cert_pem: &str, key_pem: &str) {
    for (name, text, mode) in [("tls.crt", cert_pem, 0o644), ("tls.key", key_pem, 0o600)] {
        let tmp = dir.join(format!(".{name}.new"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)).unwrap();
        std::fs::rename(&tmp, dir.join(name)).unwrap();
    }
}

/// A client that trusts `roots` only and speaks only `versions`.
fn client(roots: &[&CertifiedKey<rcgen::KeyPair>], versions: &[&'static SupportedProtocolVersion]) -> TlsConnector {
    let mut store = RootCertStore::empty();
    for r in roots {
        store.add(r.cert.der().clone()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

async fn connect(addr: SocketAddr, tls: &TlsConnector) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    tls.connect(ServerName::try_from("localhost").unwrap(), tcp).await
}

/// Sends `GET /health` on an open connection (kept alive) and reads the whole response.
async fn health(conn: &mut TlsStream<TcpStream>) -> String {
    conn.write_all(b"GET /health HTTP/1.1\r\nhost: localhost\r\n\r\n").await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let started = Instant::now();
    while !String::from_utf8_lossy(&got).ends_with("{\"status\":\"ok\"}") && started.elapsed() < Duration::from_secs(10) {
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "connection closed mid-response: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

fn peer_cert(conn: &TlsStream<TcpStream>) -> Vec<u8> {
    conn.get_ref().1.peer_certificates().expect("a certificate")[0].to_vec()
}

/// `openssl s_client` restricted to one protocol version: (handshake succeeded, its output).
fn s_client(addr: SocketAddr, version_flag: &str) -> (bool, String) {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &addr.to_string(), "-servername", "localhost", version_flag])
        // OpenSSL 3 will not even offer TLS 1.1 at its default security level.
        .args(["-cipher", "DEFAULT:@SECLEVEL=0"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl is installed (.ci/run installs it)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success() && text.contains("Cipher is") && !text.contains("Cipher is (NONE)"), text)
}

async fn start(dir: &Path, trusted: &CertifiedKey<rcgen::KeyPair>) -> RunningAgent {
    let mut cmd = agent_command(dir);
    cmd.env("AGENT__SERVER__TLS__CERT_FILE", dir.join("tls").join("tls.crt"))
        .env("AGENT__SERVER__TLS__KEY_FILE", dir.join("tls").join("tls.key"));
    let ready_client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(trusted.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    RunningAgent::start_with_client(cmd, ready_client).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_tls_only_with_hsts_and_reloads_the_certificate_on_sighup() {
    ensure_models();
    let dir = tempfile::tempdir().unwrap();
    init_key(dir.path());
    let tls_dir = dir.path().join("tls");
    std::fs::create_dir(&tls_dir).unwrap();
    let first = new_pair();
    install(&tls_dir, &first.cert.pem(), &first.signing_key.serialize_pem());
    let mut agent = start(dir.path(), &first).await;
    assert!(agent.base_url.starts_with("https://"), "{}", agent.base_url);
    let addr: SocketAddr = agent.base_url.trim_start_matches("https://").parse().unwrap();

    // Every response carries HSTS: a page, a 404, an API error.
    let https = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(first.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    for (path, status) in [("/health", 200), ("/no-such-page", 404), ("/api/conversations", 401)] {
        let r = https.get(format!("{}{path}", agent.base_url)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{path}");
        assert_eq!(r.headers().get("strict-transport-security").map(|v| v.to_str().unwrap()), Some(HSTS), "{path}");
    }

    // TLS 1.2 and TLS 1.3 clients each get in, and get HSTS, while a client that connected
    // first and says nothing holds only its own handshake.
    let _silent = TcpStream::connect(addr).await.unwrap();
    for (version, expect) in [(&rustls::version::TLS12, ProtocolVersion::TLSv1_2), (&rustls::version::TLS13, ProtocolVersion::TLSv1_3)] {
        let only = client(&[&first], &[version]);
        let connecting = connect(addr, &only);
        let mut conn = tokio::time::timeout(Duration::from_secs(5), connecting).await.expect("not held up").unwrap();
        assert_eq!(conn.get_ref().1.protocol_version(), Some(expect));
        let response = health(&mut conn).await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.to_ascii_lowercase().contains(&format!("strict-transport-security: {}", HSTS.to_ascii_lowercase())), "{response}");
    }

    // TLS 1.1 is refused by the server (OpenSSL's own TLS 1.2 attempt is the control).
    let (ok12, out12) = s_client(addr, "-tls1_2");
    assert!(ok12, "openssl speaks TLS 1.2 to the service:\n{out12}");
    let (ok11, out11) = s_client(addr, "-tls1_1");
    assert!(!ok11, "TLS 1.1 must be refused:\n{out11}");
    // The client did offer 1.1 (it did not give up locally) and the server answered with an alert.
    assert!(out11.contains("Protocol  : TLSv1.1") && out11.contains("SSL alert number"), "refused by the server:\n{out11}");

    // Plain HTTP on the TLS port gets no HTTP answer.
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain.write_all(b"GET /health HTTP/1.1\r\nhost: localhost\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), plain.read_to_end(&mut answer)).await.expect("the server hangs up");
    assert!(!answer.starts_with(b"HTTP/"), "plain HTTP answered: {}", String::from_utf8_lossy(&answer));
    assert!(reqwest::get(format!("http://{addr}/health")).await.is_err(), "plain HTTP refused");

    // SIGHUP after replacing the files: new connections see the new certificate; a connection
    // opened before keeps working.
    let mut before = connect(addr, &client(&[&first], &[&rustls::version::TLS13])).await.unwrap();
    assert!(health(&mut before).await.starts_with("HTTP/1.1 200"));
    let second = new_pair();
    install(&tls_dir, &second.cert.pem(), &second.signing_key.serialize_pem());
    let either = client(&[&first, &second], &[&rustls::version::TLS13, &rustls::version::TLS12]);
    let mut conn = connect(addr, &either).await.unwrap();
    assert_eq!(peer_cert(&conn), first.cert.der().to_vec(), "no reload before SIGHUP");
    assert!(health(&mut conn).await.starts_with("HTTP/1.1 200"));
    hangup(agent.pid());
    let started = Instant::now();
    loop {
        let conn = connect(addr, &either).await.expect("the listener stays open through the reload");
        if peer_cert(&conn) == second.cert.der().to_vec() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "new certificate not served; log:\n{}", agent.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(health(&mut before).await.starts_with("HTTP/1.1 200"), "an open connection survives the reload");
    assert!(connect(addr, &client(&[&first], &[&rustls::version::TLS13])).await.is_err(), "the old certificate is gone");

    // A broken replacement: the certificate in use stays, and the log says so.
    std::fs::write(tls_dir.join("tls.crt"), "not a certificate").unwrap();
    hangup(agent.pid());
    let started = Instant::now();
    while !agent.logs().contains("TLS certificate not reloaded") {
        assert!(started.elapsed() < Duration::from_secs(10), "no error logged:\n{}", agent.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut conn = connect(addr, &either).await.unwrap();
    assert_eq!(peer_cert(&conn), second.cert.der().to_vec());
    assert!(health(&mut conn).await.starts_with("HTTP/1.1 200"));

    // SIGTERM still stops it promptly with TLS connections open.
    let took = agent.terminate(Duration::from_secs(15)).expect("stops after SIGTERM");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

fn hangup(pid: u32) {
    assert!(Command::new("kill").arg("-HUP").arg(pid.to_string()).status().unwrap().success());
}
