//! An EHR crash at the worst moment, on purpose: a proxy between the agent and sekmet-fhir that
//! passes requests through until it is armed, then lets the next booking transaction reach the
//! EHR, kills the EHR (SIGKILL, as in a crash) before passing the answer back, and loses the
//! answer. The booking is in the EHR; the agent only knows the EHR stopped answering. Whatever
//! comes after finds the EHR down, until it is started again on the same port and data.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use fhir_client::sekmet::Sekmet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// When the EHR was crashed.
#[derive(Clone, Copy, Debug)]
pub struct Crash {
    /// The kill was about to be sent.
    pub began: Instant,
    pub began_wall: DateTime<Utc>,
    /// The server was gone.
    pub down: Instant,
}

type Armed = Arc<Mutex<Option<(Sekmet, oneshot::Sender<Crash>)>>>;

/// The proxy; it runs as long as the test's runtime does.
pub struct CrashProxy {
    /// FHIR base through the proxy, e.g. `http://127.0.0.1:4321/fhir`.
    pub base_url: String,
    armed: Armed,
}

impl CrashProxy {
    /// Starts a proxy to the sekmet listening on `upstream_port` (one request per connection).
    pub async fn start(upstream_port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let port = listener.local_addr().expect("proxy address").port();
        let upstream = SocketAddr::from(([127, 0, 0, 1], upstream_port));
        let armed: Armed = Arc::default();
        let arm = armed.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(pass(client, upstream, arm.clone()));
            }
        });
        Self { base_url: format!("http://127.0.0.1:{port}/fhir"), armed }
    }

    /// Hands over the EHR: the next booking transaction crashes it. The receiver says when.
    pub fn arm(&self, ehr: Sekmet) -> oneshot::Receiver<Crash> {
        let (tx, rx) = oneshot::channel();
        *self.armed.lock().expect("proxy lock") = Some((ehr, tx));
        rx
    }
}

/// One request through: read it, send it on with `Connection: close`, read the whole answer,
/// and pass it back, unless it is the booking transaction that crashes the EHR. An EHR that is
/// down shows as a connection closed without an answer.
async fn pass(mut client: TcpStream, upstream: SocketAddr, armed: Armed) {
    let Some(req) = read_request(&mut client).await else { return };
    let Ok(mut up) = TcpStream::connect(upstream).await else { return };
    let line_end = req.windows(2).position(|w| w == b"\r\n").unwrap_or(0) + 2;
    let sent = async {
        up.write_all(&req[..line_end]).await?;
        up.write_all(b"Connection: close\r\n").await?;
        up.write_all(&req[line_end..]).await?;
        let mut resp = Vec::new();
        up.read_to_end(&mut resp).await?;
        Ok::<_, std::io::Error>(resp)
    };
    let Ok(resp) = sent.await else { return };
    // The transaction is a POST to the base (which ends in a slash), as a batch of reads is.
    let needle: &[u8] = b"\"type\":\"transaction\"";
    let transaction = req.windows(needle.len()).any(|w| w == needle);
    if req.starts_with(b"POST /fhir/ HTTP") && transaction {
        let trigger = armed.lock().expect("proxy lock").take();
        if let Some((ehr, told)) = trigger {
            let (began, began_wall) = (Instant::now(), Utc::now());
            tokio::task::spawn_blocking(move || crash(ehr)).await.expect("crash task");
            let _ = told.send(Crash { began, began_wall, down: Instant::now() });
            return; // the answer goes down with the EHR
        }
    }
    let _ = client.write_all(&resp).await;
}

/// Reads one HTTP/1.1 request (head + Content-Length body); `None` at EOF.
async fn read_request(sock: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize = head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    while buf.len() < head_end + len {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(buf)
}

/// SIGKILL to the sekmet server (found by its settings file, which lies in the test's own
/// temporary folder): requests in flight are cut wherever they are and its SQLite keeps only
/// what committed. Then the watchdog between the test and the server is let go.
pub fn crash(ehr: Sekmet) {
    let cfg = ehr.data_dir().join("settings.yaml").to_string_lossy().into_owned();
    let mut killed = 0;
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let args: Vec<String> = cmdline.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        let watchdog = args.iter().any(|a| a.contains("subprocess.Popen"));
        if !watchdog && args.iter().any(|a| a == "serve") && args.contains(&cfg) {
            let status = Command::new("kill").args(["-KILL", &pid.to_string()]).status().expect("run kill");
            assert!(status.success(), "kill -KILL {pid}");
            killed += 1;
        }
    }
    assert_eq!(killed, 1, "one sekmet server process for {cfg}");
    drop(ehr);
}
