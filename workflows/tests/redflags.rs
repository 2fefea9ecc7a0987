//! Table-driven red-flag tests: every positive phrasing flags its category, no negative flags.

use workflows::redflags::{detect, Category, Category::*, RuleSet};

const POSITIVE: &[(&str, Category)] = &[
    ("I have chest pain", ChestPain),
    ("my chest feels tight", ChestPain),
    ("there's a crushing pressure in my chest", ChestPain),
    ("Pain in my chest since this morning", ChestPain),
    ("chest pian since an hour", ChestPain),
    ("My chset hurts a lot", ChestPain),
    ("I think I'm having a heart attack", ChestPain),
    ("it feels like an elephant is sitting on my chest", ChestPain),
    ("tightness in my chest when I walk", ChestPain),
    ("I had chest pain this morning and it's still there", ChestPain),
    ("I've never had chest pain like this before", ChestPain),
    ("not sure if this is chest pain or heartburn", ChestPain),
    ("Me duele el pecho", ChestPain),
    ("tengo dolor de pecho", ChestPain),
    ("siento una opresión en el pecho", ChestPain),
    ("dolor en el pecho que baja al brazo izquierdo", ChestPain),
    ("creo que me está dando un infarto", ChestPain),
    ("TENGO DOLOR EN EL PECHO DESDE ANOCHE", ChestPain),
    ("I can't breathe", Breathing),
    ("cant breath", Breathing),
    ("I'm really short of breath", Breathing),
    ("having trouble breathing since I woke up", Breathing),
    ("it's hard to breathe when I lie down", Breathing),
    ("I can not catch my breath", Breathing),
    ("I'm struggling to breathe", Breathing),
    ("shortness of breath getting worse", Breathing),
    ("my lips are turning blue", Breathing),
    ("no puedo respirar", Breathing),
    ("me falta el aire", Breathing),
    ("tengo dificultad para respirar", Breathing),
    ("me cuesta mucho respirar", Breathing),
    ("siento que me ahogo", Breathing),
    ("No, I can't breathe well", Breathing),
    ("I think I'm having a stroke", Stroke),
    ("my face is drooping on one side", Stroke),
    ("my speech is slurred and my arm is weak", Stroke),
    ("I can't move my left side", Stroke),
    ("numbness on the right side of my body", Stroke),
    ("worst headache of my life", Stroke),
    ("suddenly I have double vision", Stroke),
    ("creo que tengo un derrame cerebral", Stroke),
    ("tengo la cara caída de un lado", Stroke),
    ("no puedo mover el lado izquierdo", Stroke),
    ("my husband is having a strok", Stroke),
    ("I want to kill myself", Suicidal),
    ("I want to end it all", Suicidal),
    ("I don't want to live anymore", Suicidal),
    ("i keep thinking about suicide", Suicidal),
    ("everyone would be better off without me", Suicidal),
    ("I've been thinking of hurting myself", Suicidal),
    ("there's no reason to live", Suicidal),
    ("I wish I were dead", Suicidal),
    ("I feel suicidal", Suicidal),
    ("honestly i wanna die", Suicidal),
    ("quiero morirme", Suicidal),
    ("ya no quiero vivir", Suicidal),
    ("pienso en quitarme la vida", Suicidal),
    ("quiero acabar con todo", Suicidal),
    ("I tried to kill myself last year and I feel that way again", Suicidal),
    ("I took too many of my sleeping pills", Overdose),
    ("I think I overdosed on my pain meds", Overdose),
    ("my son swallowed a whole bottle of tylenol", Overdose),
    ("I took too much insulin", Overdose),
    ("me tomé todas las pastillas", Overdose),
    ("creo que tomé demasiadas pastillas", Overdose),
    ("sobredosis", Overdose),
    ("I'm bleeding heavily from my incision", SevereBleeding),
    ("the bleeding won't stop", SevereBleeding),
    ("I can't stop the bleeding", SevereBleeding),
    ("I haven't been able to stop the bleeding", SevereBleeding),
    ("there's blood everywhere", SevereBleeding),
    ("I'm vomiting blood", SevereBleeding),
    ("coughing up blood this morning", SevereBleeding),
    ("blood soaked through the bandage", SevereBleeding),
    ("estoy sangrando mucho", SevereBleeding),
    ("no para de sangrar la herida", SevereBleeding),
    ("estoy vomitando sangre", SevereBleeding),
    ("I fainted in the bathroom", LossOfConsciousness),
    ("I passed out twice today", LossOfConsciousness),
    ("my mom is unconscious", LossOfConsciousness),
    ("I blacked out for a minute", LossOfConsciousness),
    ("I feel like I'm going to faint", LossOfConsciousness),
    ("me desmayé esta mañana", LossOfConsciousness),
    ("perdí el conocimiento", LossOfConsciousness),
    ("he had a seizure", Seizure),
    ("está convulsionando", Seizure),
    ("my throat is closing up", SevereAllergicReaction),
    ("my tongue is swelling after the new pill", SevereAllergicReaction),
    ("I'm having an allergic reaction to the antibiotic", SevereAllergicReaction),
    ("I had to use my epipen", SevereAllergicReaction),
    ("se me está cerrando la garganta", SevereAllergicReaction),
    ("tengo los labios hinchados y la lengua hinchada", SevereAllergicReaction),
    ("reacción alérgica fuerte", SevereAllergicReaction),
];

const NEGATIVE: &[&str] = &[
    "no chest pain",
    "I don't have any chest pain",
    "I do not have chest pain or shortness of breath",
    "denies chest pain",
    "I had chest pain last year",
    "I had chest pain years ago but nothing since",
    "my chest pain went away",
    "I had some chest pain, but it's gone now",
    "what should I do if I get chest pain?",
    "Can lisinopril cause chest pain?",
    "chest pain: none",
    "My chest x-ray was normal",
    "I have heartburn after dinner",
    "sin dolor de pecho",
    "no me duele el pecho",
    "no tengo dolor en el pecho",
    "tuve dolor de pecho el año pasado",
    "I don't have any trouble breathing",
    "I'm breathing fine",
    "no shortness of breath",
    "I can breathe normally now",
    "no tengo problemas para respirar",
    "el aire acondicionado no funciona",
    "respiro bien",
    "my father had a stroke in 2015",
    "history of stroke",
    "what are the signs of a stroke?",
    "I'm not suicidal",
    "I don't want to hurt myself",
    "I'd like to cut my hair before the appointment",
    "this pain is killing me",
    "I'm dying to see the doctor",
    "quiero cortarme el pelo",
    "I took my pills this morning",
    "it took too much time to get an appointment",
    "I need a blood test",
    "my blood pressure is a lot higher lately",
    "a little bleeding from my gums when brushing",
    "no bleeding",
    "I'm allergic to penicillin",
    "I had an allergic reaction as a child",
    "I never fainted",
    "no me he desmayado",
    "no fever",
    "I need to book an appointment for next Tuesday",
    "can I get a refill of my lisinopril",
    "quiero una cita con el cardiólogo",
    "I feel much better today, thanks",
    "my knee hurts when I climb stairs",
    "I have a mild headache",
    "I want to talk to a person",
    "my heart is healthy according to the doctor",
    "no blood in my stool",
    "the stitches look fine, no pus",
];

#[test]
fn every_positive_phrasing_flags_its_category() {
    let misses: Vec<String> = POSITIVE
        .iter()
        .filter(|(text, cat)| !detect(text, &[]).contains(cat))
        .map(|(text, cat)| format!("{text:?} should flag {}: got {:?}", cat.as_str(), detect(text, &[])))
        .collect();
    assert!(misses.is_empty(), "{} misses:\n{}", misses.len(), misses.join("\n"));
}

#[test]
fn no_negative_phrasing_flags() {
    let false_alarms: Vec<String> = NEGATIVE
        .iter()
        .map(|text| (text, detect(text, &[RuleSet::PostDischarge])))
        .filter(|(_, cats)| !cats.is_empty())
        .map(|(text, cats)| format!("{text:?} flagged {cats:?}"))
        .collect();
    assert!(false_alarms.is_empty(), "{} false alarms:\n{}", false_alarms.len(), false_alarms.join("\n"));
}

#[test]
fn the_table_has_at_least_a_hundred_phrasings() {
    assert!(POSITIVE.len() + NEGATIVE.len() >= 100);
}

#[test]
fn fever_after_surgery_needs_the_post_discharge_set_and_a_high_reading() {
    assert!(detect("I have a fever", &[]).is_empty());
    assert_eq!(detect("I have a fever", &[RuleSet::PostDischarge]), vec![HighFeverAfterSurgery]);
    assert_eq!(detect("my temperature is 38.9", &[RuleSet::PostDischarge]), vec![HighFeverAfterSurgery]);
    assert_eq!(detect("temp 101.5F last night", &[RuleSet::PostDischarge]), vec![HighFeverAfterSurgery]);
    assert_eq!(detect("tengo fiebre de 39 grados", &[RuleSet::PostDischarge]), vec![HighFeverAfterSurgery]);
    assert!(detect("slight fever, 37.4", &[RuleSet::PostDischarge]).is_empty());
    assert!(detect("no fever", &[RuleSet::PostDischarge]).is_empty());
}

#[test]
fn wound_infection_flags_after_discharge() {
    assert_eq!(detect("my incision is oozing pus", &[RuleSet::PostDischarge]), vec![WoundInfection]);
    assert_eq!(detect("la herida está supurando", &[RuleSet::PostDischarge]), vec![WoundInfection]);
}

#[test]
fn several_categories_in_one_message_are_all_reported() {
    let cats = detect("chest pain and I can't breathe", &[]);
    assert_eq!(cats, vec![ChestPain, Breathing]);
}
