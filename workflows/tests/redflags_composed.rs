//! Red flags said in ways no table lists word for word: the rules compose a body part with what
//! it does, a verb of taking with how much, and read care, history and idioms as such.

use workflows::redflags::{detect, Category, Category::*, RuleSet};

/// Ways of saying it that are built from parts (a body part and what it does, a verb of taking
/// and how much), so that paraphrases nobody listed still flag.
const COMPOSED_POSITIVE: &[(&str, Category)] = &[
    ("my heart feels heavy and squeezed", ChestPain),
    ("siento pesadez en el corazón", ChestPain),
    ("there's a dull ache right in the center of my chest", ChestPain),
    ("my right hand went weak and I can't hold a fork", Stroke),
    ("la pierna izquierda se me quedó sin fuerza de repente", Stroke),
    ("mom's speech sounds strange and she can't find the right words", Stroke),
    ("my brother says he wants to die", Suicidal),
    ("mi hermana dice que se quiere matar", Suicidal),
    ("things would be easier if I just didn't exist", Suicidal),
    ("I burned myself on purpose last night", Suicidal),
    ("I accidentally took my warfarin twice", Overdose),
    ("took 12 of my sleeping pills", Overdose),
    ("my kid drank some detergent", Overdose),
    ("me tomé el doble de la insulina", Overdose),
    ("the cut on my hand is bleeding nonstop", SevereBleeding),
    ("bleeding from the gums and it still won't stop", SevereBleeding),
    ("my father keeled over in the kitchen", LossOfConsciousness),
    ("she had a fit and her eyes rolled back", Seizure),
    ("my lips are all puffy after the shrimp", SevereAllergicReaction),
    ("she is wheezing worse than ever tonight", Breathing),
    ("been using my inhaler every hour and it does nothing", Breathing),
    ("soaking through a pad every hour since the delivery", SevereBleeding),
    ("his stool looks black, like tar", SevereBleeding),
    ("got stung by a wasp and my hand and face are swelling", SevereAllergicReaction),
    ("lost the sight in my left eye all of a sudden", Stroke),
    ("tengo el brazo como de trapo desde anoche", Stroke),
    ("my daughter sent a goodbye note and is not picking up", Suicidal),
    ("se tomó medio frasco del jarabe", Overdose),
];

const COMPOSED_POST_DISCHARGE: &[(&str, Category)] = &[
    ("the incision is warm and puffy and smells bad", WoundInfection),
    ("my staples look angry and there is yellow stuff coming out", WoundInfection),
    ("la cicatriz está roja y caliente", WoundInfection),
    ("I'm burning up since they sent me home", HighFeverAfterSurgery),
];

/// Mentions that are about care, history, a wish for the future or an idiom.
const COMPOSED_NEGATIVE: &[&str] = &[
    "need my seizure medication renewed",
    "book me into the stroke clinic please",
    "can I move my chest x-ray to Friday",
    "¿pueden renovar mi receta de pastillas para la presión?",
    "¿qué hago si me da fiebre después de la cirugía?",
    "I passed out once in college, the form asks",
    "my uncle had a stroke ten years ago and his arm stayed weak",
    "traffic nearly gave me a heart attack",
    "the wound looks clean, no redness, no swelling",
    "I take my metformin twice a day",
    "I took 20 units of insulin this morning as usual",
    "this form is so confusing",
    "me quedé ahogada en trámites",
    "half my lip is still numb after the dentist",
    "intenté suicidarme hace muchos años, ahora estoy bien",
];

#[test]
fn composed_phrasings_flag_their_category() {
    let misses: Vec<String> = COMPOSED_POSITIVE
        .iter()
        .map(|(t, c)| (t, c, detect(t, &[])))
        .chain(COMPOSED_POST_DISCHARGE.iter().map(|(t, c)| (t, c, detect(t, &[RuleSet::PostDischarge]))))
        .filter(|(_, cat, got)| !got.contains(cat))
        .map(|(text, cat, got)| format!("{text:?} should flag {}: got {got:?}", cat.as_str()))
        .collect();
    assert!(misses.is_empty(), "{} misses:\n{}", misses.len(), misses.join("\n"));
}

#[test]
fn care_history_wishes_and_idioms_do_not_flag() {
    let false_alarms: Vec<String> = COMPOSED_NEGATIVE
        .iter()
        .map(|t| (t, detect(t, &[RuleSet::PostDischarge])))
        .filter(|(_, cats)| !cats.is_empty())
        .map(|(t, cats)| format!("{t:?} flagged {cats:?}"))
        .collect();
    assert!(false_alarms.is_empty(), "{} false alarms:\n{}", false_alarms.len(), false_alarms.join("\n"));
}

#[test]
fn a_past_attempt_flags_unless_the_patient_says_they_are_well_now() {
    assert_eq!(detect("I tried to kill myself years ago", &[]), vec![Suicidal]);
    assert!(detect("I tried to kill myself years ago, I'm fine now", &[]).is_empty());
    assert_eq!(detect("I tried to kill myself years ago, I'm fine now, but tonight I want to die", &[]), vec![Suicidal]);
}

#[test]
fn a_clause_after_a_past_mention_is_history_unless_it_says_now() {
    assert!(detect("I had a stroke in 2019 and my hand stayed weak", &[]).is_empty());
    assert_eq!(detect("I had a stroke in 2019 and since this morning my hand is weak", &[]), vec![Stroke]);
    // A past operation does not make a fever past.
    assert_eq!(detect("I had surgery two months ago and I have a fever", &[RuleSet::PostDischarge]), vec![HighFeverAfterSurgery]);
}

#[test]
fn post_discharge_rules_need_a_stay_in_a_message_read_alone() {
    use workflows::redflags::after_a_stay;
    assert!(after_a_stay("had my appendectomy tuesday and now I have a fever"));
    assert!(after_a_stay("me dieron de alta ayer"));
    assert!(after_a_stay("the drain site is red"));
    assert!(!after_a_stay("my son has a fever of 38"));
    assert!(!after_a_stay("tengo la presión alta"));
}

/// Spanish written as it sounds: silent h, b/v, s/z/c, k/qu, ll/y.
#[test]
fn spanish_spelt_as_it_sounds_still_flags() {
    assert_eq!(detect("ya no kiero segir biviendo", &[]), vec![Suicidal]);
    assert_eq!(detect("mi esposo se desmallo en la cosina", &[]), vec![LossOfConsciousness]);
    assert_eq!(detect("le sale pus de la erida", &[RuleSet::PostDischarge]), vec![WoundInfection]);
    use workflows::redflags::after_a_stay;
    assert!(after_a_stay("despues de la sirugia me siento mal"), "a misspelt operation is still one");
    assert!(!after_a_stay("I would like to book"), "'would' is not 'wound'");
}

/// Words of negation that deny nothing, and a new statement after a negation.
#[test]
fn a_negation_reaches_only_what_it_denies() {
    assert_eq!(detect("sin querer le di el doble de la medicina al niño", &[]), vec![Overdose]);
    assert_eq!(detect("no idea what is going on, she's talking gibberish", &[]), vec![Stroke]);
    assert!(detect("he's been seizure free for a year, just need the form", &[]).is_empty());
    assert!(detect("the cut stopped bleeding after a few minutes", &[]).is_empty());
    assert_eq!(detect("the cut hasn't stopped bleeding for 20 minutes", &[]), vec![SevereBleeding]);
}

/// Round 4 parts: each is a way of saying it, not a sentence from a corpus.
#[test]
fn more_composed_phrasings_flag() {
    for (text, cat) in [
        ("grandpa is confused all of a sudden", Stroke),
        ("mi abuela de repente está desorientada", Stroke),
        ("her words are coming out all jumbled", Stroke),
        ("one side of his face looks off", Stroke),
        ("covered in hives and now it's hard to swallow", SevereAllergicReaction),
        ("my tongue feels huge after the peanuts", SevereAllergicReaction),
        ("nosebleed going on for 40 minutes now", SevereBleeding),
        ("the towel is soaked through from the cut", SevereBleeding),
        ("she has been cutting her arms again", Suicidal),
        ("I wrote letters to my kids in case", Suicidal),
        ("my toddler chewed a laundry pod", Overdose),
        ("the baby may have eaten some of my pills", Overdose),
        ("his ribs are sucking in when he breathes", Breathing),
        ("mi niño tiene los labios azules", Breathing),
    ] {
        assert!(detect(text, &[]).contains(&cat), "{text:?} should flag {}", cat.as_str());
    }
}

/// History told with a year or a month, chronic and explained things, care groups.
#[test]
fn history_chronic_and_care_do_not_flag() {
    for text in [
        "I had a stroke back in 2019 and my left arm is still weak",
        "en el 2018 le dio un infarto y desde entonces ha estado bien",
        "her allergic reaction in January was from latex gloves",
        "a bit short of breath on the stairs, that's normal for me",
        "is the suicide loss support group meeting this week",
        "my grandfather died of a stroke, what is my risk",
        "me duele el brazo izquierdo de la vacuna",
    ] {
        assert!(detect(text, &[]).is_empty(), "{text:?} flagged {:?}", detect(text, &[]));
    }
}

#[test]
fn someone_elses_suicidal_thoughts_flag_but_a_relatives_old_attempt_does_not() {
    for text in [
        "he's been thinking about killing himself",
        "my daughter keeps saying she wants to kill herself",
        "my son has been cutting himself and says he wishes he wouldn't wake up",
        "i keep thinking about killing my self",
    ] {
        assert_eq!(detect(text, &[]), vec![Suicidal], "{text}");
    }
    assert!(detect("my mom tried to kill herself when I was a teenager, does depression run in families", &[]).is_empty());
}

#[test]
fn when_i_was_doing_something_is_now_but_when_i_was_a_kid_is_history() {
    assert_eq!(detect("chest pressure going to my left arm, it started when I was climbing the stairs", &[]), vec![ChestPain]);
    assert!(detect("I had chest pain when I was a kid", &[]).is_empty());
    assert!(detect("I had a seizure when I was 12", &[]).is_empty());
}

#[test]
fn the_rest_of_a_bottle_and_pills_taken_for_candy_are_overdoses() {
    assert_eq!(detect("I swallowed the rest of the bottle of my back pills", &[]), vec![Overdose]);
    assert_eq!(detect("he took 4 of them because he thought they were candy", &[]), vec![Overdose]);
    assert_eq!(detect("mi esposo se está agarrando el pecho y está sudado", &[]), vec![ChestPain]);
}

#[test]
fn a_fit_a_faint_or_suicidal_thoughts_that_have_passed_still_flag() {
    assert_eq!(detect("se le voltearon los ojos y temblaba todo, ya paró pero está muy dormido", &[]), vec![Seizure]);
    assert_eq!(detect("everything went dark and the next thing I remember is the floor, I'm ok now", &[]), vec![LossOfConsciousness]);
    assert_eq!(detect("hace unos días quería quitarme la vida, ya se me pasó un poco", &[]), vec![Suicidal]);
    assert!(detect("my chest pain went away after I rested", &[]).is_empty(), "other symptoms that went away do not");
}

#[test]
fn more_ways_to_say_it_flag() {
    for (text, want) in [
        ("no me llega el aire y tengo las uñas moradas", Breathing),
        ("half my smile isn't working since dinner", Stroke),
        ("se me chuequeó la boca de repente", Stroke),
        ("filled the toilet bowl red twice now", SevereBleeding),
        ("he llenado 10 toallas desde esta mañana", SevereBleeding),
        ("le dieron amoxicilina y tiene la bemba como un globo", SevereAllergicReaction),
        ("it feels like an elephant parked on me", ChestPain),
        ("got the pills lined up", Suicidal),
    ] {
        assert_eq!(detect(text, &[]), vec![want], "{text}");
    }
}

#[test]
fn idioms_care_words_history_and_what_ifs_do_not_flag() {
    for text in [
        "my boss is gonna have a seizure when I tell him I need a day off",
        "mi jefe me quiere matar si sigo faltando",
        "laughed so hard I couldn't breathe",
        "estoy que me desmayo del sueño",
        "does the overdose kit need a prescription",
        "quiero una cita en la unidad de ictus",
        "my mother passed out at church back in March, she's fine",
        "cuando nació mi primer hijo perdí mucha sangre",
        "I tried to kill myself two years ago and I'm doing much better now",
        "si a mi niño le da una convulsión, qué hago",
        "the machine is making a weird noise",
        "thank you for fitting her in",
    ] {
        assert!(detect(text, &[]).is_empty(), "{text}");
    }
    assert_eq!(detect("about an hour ago I couldn't see out of my right eye, like a curtain came down", &[]), vec![Stroke]);
}

#[test]
fn over_when_said_so_inside_the_mention_but_not_when_denied() {
    assert!(detect("the nosebleed stopped after 10 minutes of pinching", &[]).is_empty());
    assert_eq!(detect("my nose has been bleeding for 30 minutes and it hasn't stopped", &[]), vec![SevereBleeding]);
    assert!(detect("my asthma flare is over, the prednisone worked", &[]).is_empty());
    assert!(detect("ya se me quitó la falta de aire", &[]).is_empty());
    assert_eq!(detect("heavy squeezing in my chest that went down my left arm", &[]), vec![ChestPain]);
}

/// "Took them all" is an overdose and so is meaning to, but "I'm taking them all" answers "are
/// you taking your medicines as prescribed?" (found in the answers corpora).
#[test]
fn taking_them_all_is_adherence_took_them_all_is_an_overdose() {
    for quiet in ["yes I'm taking them all", "He takes them all, I make sure of it.", "I'm taking all of them like the doctor said"] {
        assert!(detect(quiet, &[RuleSet::PostDischarge]).is_empty(), "{quiet}");
    }
    for flagged in ["I took them all", "she swallowed all of them", "I think about taking them all so I can be with her", "I will take them all this weekend"] {
        assert!(!detect(flagged, &[]).is_empty(), "{flagged}");
    }
}

/// Unaccented Spanish "si" is "if" and "yes": a what-if asks, but a "si" before something that
/// happened ("tuvo", "hoy", "se le durmió") answers yes, and the emergency in it flags.
#[test]
fn si_before_what_happened_is_a_yes_not_an_if() {
    for flagged in ["si mi hijo tuvo una convulsion hoy", "si a mi mama se le durmio la mitad de la cara"] {
        assert!(!detect(flagged, &[]).is_empty(), "{flagged}");
    }
    for asks in ["si mi hijo tiene una convulsion que hago", "si me da dolor de pecho que hago", "Si mi hijo se traga una pila de reloj, ¿qué tengo que hacer?"] {
        assert!(detect(asks, &[]).is_empty(), "{asks}");
    }
}
