//! Bad configuration stops the service before anything starts: one line naming the key, exit
//! code 2, no database created.

use e2e::{agent_command, init_key};

fn serve_fails_with(data: &std::path::Path, env: &[(&str, &str)], key: &str) {
    let mut cmd = agent_command(data);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.arg("serve").output().expect("run agent");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "exit code for {key}; stderr: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line for {key}: {stderr}");
    assert!(stderr.contains(key), "names {key}: {stderr}");
    assert!(!data.join("agent.db").exists(), "nothing started for {key}");
}

#[test]
fn unknown_key_is_named() {
    let dir = tempfile::tempdir().unwrap();
    init_key(dir.path());
    serve_fails_with(dir.path(), &[("AGENT__SERVER__COLOUR", "blue")], "server.colour");
}

#[test]
fn malformed_urls_are_named() {
    let dir = tempfile::tempdir().unwrap();
    init_key(dir.path());
    serve_fails_with(dir.path(), &[("AGENT__DATABASE__URL", "postgres//no-scheme")], "database.url");
    serve_fails_with(dir.path(), &[("AGENT__FHIR__BASE_URL", "ht!tp:/x")], "fhir.base_url");
}

#[test]
fn missing_key_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    serve_fails_with(dir.path(), &[], "crypto.key_file");
}

#[test]
fn world_readable_key_file_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    init_key(dir.path());
    let key = dir.path().join("master.key");
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600, "keys init makes 0600");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    serve_fails_with(dir.path(), &[], "crypto.key_file");
}

#[test]
fn missing_tls_certificate_is_named() {
    let dir = tempfile::tempdir().unwrap();
    init_key(dir.path());
    let cert = dir.path().join("no-such.crt").display().to_string();
    let key = dir.path().join("no-such.key").display().to_string();
    let env = [("AGENT__SERVER__TLS__CERT_FILE", cert.as_str()), ("AGENT__SERVER__TLS__KEY_FILE", key.as_str())];
    serve_fails_with(dir.path(), &env, "server.tls.cert_file");
}

#[test]
fn wrong_type_is_named() {
    let dir = tempfile::tempdir().unwrap();
    init_key(dir.path());
    serve_fails_with(dir.path(), &[("AGENT__SERVER__PORT", "eighty")], "server.port");
}

#[test]
fn config_check_prints_effective_config_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    init_key(dir.path());
    let out = agent_command(dir.path())
        .env("AGENT__DATABASE__URL", "postgres://agent:hunter2@db.internal/agent")
        .args(["config", "check"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("[server]") && stdout.contains("configuration OK"), "{stdout}");
    assert!(!stdout.contains("hunter2"), "{stdout}");
}

#[test]
fn every_subcommand_has_help() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["config", "check", "--help"],
        vec!["models", "fetch", "--help"],
        vec!["ehr", "seed", "--help"],
        vec!["keys", "init", "--help"],
        vec!["scripts", "validate", "--help"],
        vec!["scripts", "test", "--help"],
        vec!["understand", "--help"],
        vec!["bench", "model", "--help"],
        vec!["backup", "create", "--help"],
        vec!["backup", "verify", "--help"],
        vec!["backup", "restore", "--help"],
        vec!["security", "report", "--help"],
    ] {
        let out = agent_command(dir.path()).args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"), "{args:?}");
    }
}
