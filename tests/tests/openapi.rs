//! `/api/openapi.json` describes the API that is actually served: every operation it lists is
//! routed (no 404 from the router, no 405), and every error it can answer is an OperationOutcome.

use e2e::inproc::InProcess;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_served() {
    let app = InProcess::start().await;
    let client = reqwest::Client::new();
    let doc: serde_json::Value =
        client.get(format!("{}/api/openapi.json", app.base_url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 10, "{paths:?}");
    let mut checked = 0;
    for (path, item) in paths {
        let url = format!("{}{}", app.base_url, path.replace("{id}", "00000000-0000-0000-0000-000000000000"));
        for method in ["get", "post"] {
            if item.get(method).is_none() {
                continue;
            }
            let req = if method == "get" { client.get(&url) } else { client.post(&url).json(&serde_json::json!({})) };
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap();
            assert_ne!(status, 405, "{method} {path} is not routed for that method");
            assert!(!(status == 404 && body.is_empty()), "{method} {path} is not routed at all");
            if status >= 400 {
                let outcome: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                assert_eq!(outcome["resourceType"], "OperationOutcome", "{method} {path}: {body}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 12, "{checked}");
}
