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
    // phrasings gathered while probing the rules (kept so they never regress)
    ("My chest has been hurting on and off all day", ChestPain),
    ("there is a squeezing feeling in my chest", ChestPain),
    ("I feel pressure in my chest and my left arm is numb", ChestPain),
    ("I'm having chest discomfort", ChestPain),
    ("chest pains", ChestPain),
    ("I feel like I can't get enough air", Breathing),
    ("I get winded just walking to the bathroom", Breathing),
    ("my breathing is really bad today", Breathing),
    ("I can hardly breathe", Breathing),
    ("my wife collapsed and isn't responding", LossOfConsciousness),
    ("I nearly passed out", LossOfConsciousness),
    ("My arm and leg on the left went numb suddenly", Stroke),
    ("He's talking funny and his face looks droopy", Stroke),
    ("I'm thinking about ending my life", Suicidal),
    ("I just want to go to sleep and never wake up", Suicidal),
    ("life isn't worth living", Suicidal),
    ("I don't see the point anymore", Suicidal),
    ("I've been cutting myself again", Suicidal),
    ("I took all my pills at once", Overdose),
    ("the wound is bleeding a lot and won't stop", SevereBleeding),
    ("I'm losing a lot of blood", SevereBleeding),
    ("my face and lips swelled up after the new medicine", SevereAllergicReaction),
    ("I broke out in hives and my throat feels tight", SevereAllergicReaction),
    ("me duele mucho el pecho y el brazo", ChestPain),
    ("siento presión en el pecho", ChestPain),
    ("me cuesta respirar cuando camino", Breathing),
    ("no puedo respirar bien", Breathing),
    ("me desmayé", LossOfConsciousness),
    ("mi esposo no reacciona", LossOfConsciousness),
    ("quiero quitarme la vida", Suicidal),
    ("tengo ganas de morirme", Suicidal),
    ("me sale mucha sangre de la herida", SevereBleeding),
    ("me tomé un frasco entero de pastillas", Overdose),
    ("se me hinchó la cara y la garganta", SevereAllergicReaction),
    ("feels like someone is sitting on my chest", ChestPain),
    ("sharp pain in my chest when I breathe in", ChestPain),
    ("my heart is racing and my chest hurts", ChestPain),
    ("pain going down my left arm", ChestPain),
    ("I have pressure on my chest", ChestPain),
    ("I'm gasping for air", Breathing),
    ("I feel like I'm suffocating", Breathing),
    ("I can't get a full breath", Breathing),
    ("my breathing is labored", Breathing),
    ("I'm having an asthma attack and my inhaler isn't working", Breathing),
    ("my inhaler isnt helping and i can barely talk", Breathing),
    ("my face went numb and I can't lift my arm", Stroke),
    ("my dad is slurring his words", Stroke),
    ("sudden weakness in my right arm", Stroke),
    ("sudden severe headache, worst ever", Stroke),
    ("I can't see out of my left eye suddenly", Stroke),
    ("I'm going to end my life tonight", Suicidal),
    ("I have a plan to kill myself", Suicidal),
    ("I don't want to be here anymore", Suicidal),
    ("thinking about taking all my pills", Suicidal),
    ("I'd rather be dead", Suicidal),
    ("I want to hurt myself", Suicidal),
    ("me quiero matar", Suicidal),
    ("my daughter swallowed some of my pills", Overdose),
    ("I cut my finger and it's bleeding a lot", SevereBleeding),
    ("blood is soaking through the dressing", SevereBleeding),
    ("I'm passing clots and bleeding heavily", SevereBleeding),
    ("my stool is black and tarry", SevereBleeding),
    ("I'm throwing up blood", SevereBleeding),
    ("he fainted and hit his head", LossOfConsciousness),
    ("I passed out in the shower", LossOfConsciousness),
    ("she's not breathing", Breathing),
    ("he's unresponsive", LossOfConsciousness),
    ("my lips and tongue are swelling", SevereAllergicReaction),
    ("my throat feels like it's closing", SevereAllergicReaction),
    ("I'm breaking out in hives and my face is swollen", SevereAllergicReaction),
    ("tengo la garganta cerrada", SevereAllergicReaction),
    ("se me hincharon los labios", SevereAllergicReaction),
    ("me siento muy mareado y me voy a desmayar", LossOfConsciousness),
    ("mi mamá se desmayó", LossOfConsciousness),
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
    "I don't have chest pain anymore",
    "My chest pain from last month is gone",
    "no trouble breathing, thanks",
    "breathing ok",
    "I am not short of breath",
    "I have no thoughts of hurting myself",
    "no suicidal thoughts",
    "I haven't fainted",
    "No dizziness, no fainting",
    "no tengo fiebre",
    "ya no me duele el pecho",
    "no he tenido problemas para respirar",
    "nunca me he desmayado",
    "I want to reschedule my appointment with Dr. Smith",
    "Can you refill my metformin?",
    "My chest is fine",
    "Does the surgery cause bleeding?",
    "I need an appointment for my asthma check",
    "I stopped bleeding yesterday",
    "The bleeding stopped",
    "I have chest congestion from my cold",
    "I had a chest x-ray last week",
    "I want to book a chest x-ray",
    "my doctor said to watch for chest pain",
    "the nurse asked about shortness of breath, I said no",
    "I'm not having any bleeding",
    "bleeding has stopped",
    "no pain, no fever, no bleeding",
    "No shortness of breath or chest pain",
    "not suicidal, just tired",
    "nope, no chest pain",
    "I don't feel faint",
    "I need help with my breathing machine supplies",
    "my son had a seizure as a baby",
    "I hurt my back lifting boxes",
    "my cat died and I'm sad",
    "I'm dying of boredom in here lol",
    "I could kill for a coffee",
    "this wait is killing me",
    "I'm so stressed I could scream",
    "no tengo dolor",
    "no he tenido fiebre",
    "todo bien, sin problemas",
    "mi presión está un poco alta",
    "I have a cough and runny nose",
    "can you send me info about stroke prevention?",
    "I had a heart attack in 2019 and need a cardiology follow up",
    "I need a refill of my nitroglycerin for chest pain",
];

/// Post-discharge phrasings (checked with the post_discharge rule set on).
const POST_DISCHARGE_POSITIVE: &[(&str, Category)] = &[
    ("tengo fiebre de 38.5", HighFeverAfterSurgery),
    ("I've had a fever of 39 since yesterday after my surgery", HighFeverAfterSurgery),
    ("my incision is red, hot and leaking pus", WoundInfection),
    ("tengo escalofríos y fiebre alta", HighFeverAfterSurgery),
];

#[test]
fn post_discharge_phrasings_flag_with_that_rule_set() {
    for (text, cat) in POST_DISCHARGE_POSITIVE {
        assert!(detect(text, &[RuleSet::PostDischarge]).contains(cat), "{text:?} should flag {}", cat.as_str());
    }
}

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
