//! The service's own TLS (`[server.tls]`): a rustls server config limited to TLS 1.2 and 1.3
//! with AEAD, forward-secret cipher suites only, the certificate chain and key read from PEM
//! files, swapped in place on SIGHUP (the listening socket is never closed, connections already
//! open keep the certificate they started with), and a listener that does each handshake on its
//! own task so a slow or hostile client cannot hold up the others.
//!
//! Behind a reverse proxy that terminates TLS, leave `[server.tls]` out and list the proxy in
//! `limits.trusted_proxies`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::rustls::crypto::aws_lc_rs::{cipher_suite as cs, default_provider};
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{version, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::config::ConfigError;

/// `Strict-Transport-Security`, sent on every response while the service serves TLS itself.
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// How long a client may take to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; past this, accepting waits (back-pressure, not a queue).
const MAX_HANDSHAKES: usize = 256;

/// The `[server.tls]` settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM certificate chain, the server's certificate first, then intermediates.
    pub cert_file: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) matching the certificate; mode 0600.
    pub key_file: PathBuf,
}

/// The cipher suites offered: AEAD with ECDHE only (no CBC, no RSA key exchange, no SHA-1).
fn modern_provider() -> CryptoProvider {
    CryptoProvider {
        cipher_suites: vec![
            cs::TLS13_AES_256_GCM_SHA384,
            cs::TLS13_AES_128_GCM_SHA256,
            cs::TLS13_CHACHA20_POLY1305_SHA256,
            cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ],
        ..default_provider()
    }
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let key = "server.tls.cert_file";
    let err = |m: String| ConfigError { key: key.into(), message: format!("{}: {m}", path.display()) };
    let pem = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(format!("not a PEM certificate chain ({e})")))?;
    if chain.is_empty() {
        return Err(err("holds no CERTIFICATE block".into()));
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, ConfigError> {
    let key = "server.tls.key_file";
    let pem = crate::crypto::read_secret_file(key, path)?;
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| ConfigError {
        key: key.into(),
        message: format!("{}: no usable PEM private key ({e})", path.display()),
    })
}

/// Reads the files and builds the server config; every failure names the setting.
pub fn server_config(s: &TlsSettings) -> Result<Arc<ServerConfig>, ConfigError> {
    let chain = read_chain(&s.cert_file)?;
    let key = read_key(&s.key_file)?;
    let config_err = |m: String| ConfigError { key: "server.tls".into(), message: m };
    let mut config = ServerConfig::builder_with_provider(Arc::new(modern_provider()))
        .with_protocol_versions(&[&version::TLS13, &version::TLS12])
        .map_err(|e| config_err(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| config_err(format!("certificate and key do not make a usable pair ({e})")))?;
    // axum serves HTTP/1.1 only (its http2 feature is off).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The current server config, shared by the listener and the reload task.
#[derive(Clone)]
pub struct Certificates {
    settings: TlsSettings,
    current: Arc<RwLock<Arc<ServerConfig>>>,
}

impl Certificates {
    /// Loads the configured files (a problem is a configuration error: exit code 2).
    pub fn load(settings: &TlsSettings) -> Result<Self, ConfigError> {
        let config = server_config(settings)?;
        Ok(Self { settings: settings.clone(), current: Arc::new(RwLock::new(config)) })
    }

    /// The config new connections get.
    pub fn current(&self) -> Arc<ServerConfig> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Re-reads the files; on any problem the config in use stays and the error is returned.
    pub fn reload(&self) -> Result<(), ConfigError> {
        let config = server_config(&self.settings)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = config;
        Ok(())
    }
}

/// Handles SIGHUP for as long as the process runs: reloads `certs`, or without TLS only logs
/// (the default action would end the process, and `systemctl reload` sends SIGHUP).
pub fn on_sighup(certs: Option<Certificates>) -> std::io::Result<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = signal(SignalKind::hangup())?;
    Ok(tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            match certs.as_ref().map(Certificates::reload) {
                Some(Ok(())) => tracing::info!("SIGHUP: TLS certificate reloaded"),
                Some(Err(e)) => tracing::error!(error = %e, "SIGHUP: TLS certificate not reloaded; the previous one stays in use"),
                None => tracing::info!("SIGHUP: nothing to reload (no [server.tls])"),
            }
        }
    }))
}

/// A TCP listener whose connections come out TLS-wrapped; handshakes run on their own tasks.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, certs: Certificates) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let accepting = tokio::spawn(accept_loop(tcp, certs, tx));
        Ok(Self { ready, local, accepting })
    }
}

impl Drop for TlsListener {
    /// Stops accepting (closes the socket); handshakes in flight end with their sender gone.
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept loop only ends when this listener is dropped: never resolve.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

async fn accept_loop(tcp: TcpListener, certs: Certificates, tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>) {
    let slots = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let (stream, peer) = tokio::select! {
            () = tx.closed() => return,
            accepted = tcp.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // As on the plain listener: no Nagle delay between a stream's small events.
        let _ = stream.set_nodelay(true);
        let acceptor = TlsAcceptor::from(certs.current());
        let tx = tx.clone();
        tokio::spawn(async move {
            let _slot = slot;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = tx.send((tls, peer)).await;
                }
                // Plain HTTP, old protocol versions, scanners: refused, logged without the address.
                Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake refused"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, name: &str) -> TlsSettings {
        use std::os::unix::fs::PermissionsExt;
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let s = TlsSettings { cert_file: dir.join(format!("{name}.crt")), key_file: dir.join(format!("{name}.key")) };
        std::fs::write(&s.cert_file, cert.cert.pem()).unwrap();
        std::fs::write(&s.key_file, cert.signing_key.serialize_pem()).unwrap();
        std::fs::set_permissions(&s.key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        s
    }

    #[test]
    fn a_matching_pair_loads_and_offers_only_modern_suites() {
        let dir = tempfile::tempdir().unwrap();
        let config = server_config(&write_pair(dir.path(), "a")).unwrap();
        let suites: Vec<String> = config.crypto_provider().cipher_suites.iter().map(|s| format!("{:?}", s.suite())).collect();
        assert!(suites.iter().all(|s| s.contains("GCM") || s.contains("CHACHA20")), "{suites:?}");
        assert!(suites.iter().all(|s| s.starts_with("TLS13_") || s.starts_with("TLS_ECDHE_")), "{suites:?}");
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn problems_name_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let a = write_pair(dir.path(), "a");
        let b = write_pair(dir.path(), "b");
        let missing = TlsSettings { cert_file: dir.path().join("nope.crt"), ..a.clone() };
        assert_eq!(server_config(&missing).unwrap_err().key, "server.tls.cert_file");
        let not_pem = TlsSettings { cert_file: a.key_file.clone(), ..a.clone() };
        assert_eq!(server_config(&not_pem).unwrap_err().key, "server.tls.cert_file");
        let mismatched = TlsSettings { key_file: b.key_file.clone(), ..a.clone() };
        assert_eq!(server_config(&mismatched).unwrap_err().key, "server.tls", "a key from another pair");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&a.key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = server_config(&a).unwrap_err();
        assert_eq!(e.key, "server.tls.key_file");
        assert!(e.message.contains("readable by other users"), "{e}");
    }

    #[test]
    fn a_failed_reload_keeps_the_certificate_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let a = write_pair(dir.path(), "a");
        let certs = Certificates::load(&a).unwrap();
        let before = certs.current();
        std::fs::write(&a.cert_file, "garbage").unwrap();
        assert!(certs.reload().is_err());
        assert!(Arc::ptr_eq(&before, &certs.current()), "the old config stays");
        let b = write_pair(dir.path(), "b");
        std::fs::copy(&b.cert_file, &a.cert_file).unwrap();
        std::fs::copy(&b.key_file, &a.key_file).unwrap();
        certs.reload().unwrap();
        assert!(!Arc::ptr_eq(&before, &certs.current()), "a good pair replaces it");
    }
}
