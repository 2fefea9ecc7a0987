//! `agent users add|disable|reset-mfa`: accounts from the command line, with one-line errors
//! and a non-zero exit on bad input.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn agent(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_agent"))
        .args(args)
        .current_dir(dir)
        .env_remove("AGENT_CONFIG")
        .env("AGENT__DATABASE__URL", format!("sqlite://{}/agent.db", dir.display()))
        .env("AGENT__CRYPTO__KEY_FILE", dir.join("master.key"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that fails before reading its input closes the pipe: that is its answer.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn secret_line(o: &Output) -> String {
    stdout(o).lines().find_map(|l| l.strip_prefix("totp secret: ")).expect("secret printed").to_owned()
}

#[test]
fn users_are_added_disabled_and_given_a_new_second_factor() {
    let dir = tempfile::tempdir().unwrap();
    agent::crypto::init_key_file(&dir.path().join("master.key")).unwrap();
    let added = agent(dir.path(), &["users", "add", "dana", "--role", "coordinator"], "a long enough password\n");
    assert!(added.status.success(), "{}", stderr(&added));
    let first = secret_line(&added);
    assert_eq!(first.len(), 32, "160-bit secret in base32");
    assert!(stdout(&added).contains("otpauth://totp/Agent:dana?secret="));

    let again = agent(dir.path(), &["users", "add", "dana", "--role", "coordinator"], "a long enough password\n");
    assert!(!again.status.success());
    assert_eq!(stderr(&again).trim().lines().count(), 1, "{}", stderr(&again));
    assert!(stderr(&again).contains("already exists"));

    let reset = agent(dir.path(), &["users", "reset-mfa", "dana"], "");
    assert!(reset.status.success(), "{}", stderr(&reset));
    assert_ne!(secret_line(&reset), first);

    let disabled = agent(dir.path(), &["users", "disable", "dana"], "");
    assert!(disabled.status.success(), "{}", stderr(&disabled));

    let rt = tokio::runtime::Runtime::new().unwrap();
    let actions: Vec<String> = rt.block_on(async {
        use agent::store::Store;
        let store = agent::store::SqlStore::connect(&format!("sqlite://{}/agent.db", dir.path().display()), 1).await.unwrap();
        let user = store.staff().user_by_name("dana").await.unwrap().unwrap();
        assert!(user.disabled);
        store.audit_range(0, 100).await.unwrap().into_iter().map(|r| r.action).collect()
    });
    let prefixes: Vec<&str> = actions.iter().map(|a| a.split('/').next().unwrap()).collect();
    assert_eq!(prefixes, ["users.add", "users.reset_mfa", "users.disable"], "every account change is audited");
}

#[test]
fn bad_input_is_one_line_and_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    agent::crypto::init_key_file(&dir.path().join("master.key")).unwrap();
    for (args, stdin, needle) in [
        (&["users", "add", "dana", "--role", "janitor"][..], "a long enough password\n", "role must be one of"),
        (&["users", "add", "dana", "--role", "admin"][..], "short\n", "at least 12 characters"),
        (&["users", "add", "x", "--role", "admin"][..], "a long enough password\n", "username must be"),
        (&["users", "disable", "nobody"][..], "", "no user named"),
        (&["users", "reset-mfa", "nobody"][..], "", "no user named"),
    ] {
        let out = agent(dir.path(), args, stdin);
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}
