//! Golden tests: rendered prompts must equal the reviewed files under `tests/golden/`.
//! Set `UPDATE_GOLDEN=1` to rewrite them after an intended change, then review the diff.

use prompts::*;

fn golden(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write golden");
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("missing golden {name}: {e}"));
    assert_eq!(actual, expected, "{name} changed; review and rerun with UPDATE_GOLDEN=1");
}

#[test]
fn extract_system_prompt_inlines_the_schema() {
    let schema = serde_json::json!({"type": "object", "properties": {"date": {"type": "string"}}});
    golden("extract_system.txt", &extract_system(&schema));
}

#[test]
fn phrase_system_prompt_names_the_language() {
    golden("phrase_system_es.txt", &phrase_system(Lang::Es));
    golden("phrase_system_en.txt", &phrase_system(Lang::En));
}

#[test]
fn greetings_render_with_and_without_a_name() {
    golden("greeting_en_named.txt", &greeting(Lang::En, Some("Ana")));
    golden("greeting_es_anonymous.txt", &greeting(Lang::Es, None));
}

#[test]
fn safety_message_gives_emergency_numbers_in_both_languages() {
    for lang in [Lang::En, Lang::Es] {
        let text = reply(Reply::Safety, lang);
        assert!(text.contains("911") && text.contains("988"), "{lang:?}: {text}");
    }
    golden("safety_es.txt", reply(Reply::Safety, Lang::Es));
}

#[test]
fn render_leaves_unknown_placeholders_and_fills_known_ones() {
    assert_eq!(render("{a} and {b}", &[("a", "x")]), "x and {b}");
    assert_eq!(render("open { brace", &[]), "open { brace");
}
