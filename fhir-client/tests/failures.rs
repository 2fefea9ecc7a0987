//! The client against servers that misbehave: down, never answering, answering HTML or 503.
//! Each must end in a typed error after a bounded number of attempts, never a panic or hang.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fhir_client::{Ehr, Error, FhirClient, FhirConfig, PatientId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn client(port: u16, attempts: u32) -> FhirClient {
    let cfg = FhirConfig {
        timeout_ms: 300,
        max_attempts: attempts,
        backoff_base_ms: 10,
        backoff_max_ms: 40,
        ..FhirConfig::local(format!("http://127.0.0.1:{port}/fhir"))
    };
    FhirClient::new(&cfg).unwrap()
}

/// A server answering every connection with `responses[i]` (the last one repeats); counts
/// connections. `None` = accept and never answer.
async fn fake_server(responses: Vec<Option<&'static str>>) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let resp = responses[n.min(responses.len() - 1)];
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                match resp {
                    Some(r) => {
                        let _ = sock.write_all(r.as_bytes()).await;
                        let _ = sock.shutdown().await;
                    }
                    None => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        drop(sock);
                    }
                }
            });
        }
    });
    (port, hits)
}

const HTML_200: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 22\r\nConnection: close\r\n\r\n<html>Sign in</html>\r\n";
const HTML_503: &str = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\nContent-Length: 13\r\nConnection: close\r\n\r\n<html>x</html";
const METADATA: &str = "HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nContent-Length: 39\r\nConnection: close\r\n\r\n{\"resourceType\":\"CapabilityStatement\"}\n";

#[tokio::test]
async fn a_server_that_is_down_gives_unavailable_after_max_attempts() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = client(port, 3);
    let err = c.ping().await.unwrap_err();
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
    let s = c.stats().snapshot();
    assert_eq!((s.attempts, s.retries, s.failures), (3, 2, 1));
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_with_bounded_attempts() {
    let (port, hits) = fake_server(vec![None]).await;
    let c = client(port, 2);
    let t = Instant::now();
    let err = c.patient_name(&PatientId::parse("p1").unwrap()).await.unwrap_err();
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert!(t.elapsed() < Duration::from_secs(3), "took {:?}", t.elapsed());
}

#[tokio::test]
async fn an_html_page_is_a_protocol_error_and_is_not_retried() {
    let (port, hits) = fake_server(vec![Some(HTML_200)]).await;
    let c = client(port, 3);
    let err = c.ping().await.unwrap_err();
    assert!(matches!(err, Error::Protocol(_)), "{err:?}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_transient_503_is_retried_and_then_succeeds() {
    let (port, hits) = fake_server(vec![Some(HTML_503), Some(METADATA)]).await;
    let c = client(port, 3);
    c.ping().await.unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert_eq!(c.stats().snapshot().retries, 1);
}

#[tokio::test]
async fn a_non_idempotent_request_is_sent_once_even_when_the_server_fails() {
    let (port, hits) = fake_server(vec![Some(HTML_503)]).await;
    let c = client(port, 3);
    let tx = fhir_client::model::Bundle { r#type: Some("transaction".into()), ..Default::default() };
    let err = c.transaction(&tx, false).await.unwrap_err();
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}
