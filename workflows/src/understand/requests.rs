//! The two requests every script obeys, read by rules: the patient wants a person, or asks a
//! clinical question the agent must not answer. Each is built from parts (a verb of talking and
//! someone to talk to; a question and a clinical subject) so that paraphrases nobody listed
//! still count, in English and Spanish.

use crate::text::{has_any, phrase_spans, words};

/// Phrases that ask for a person on their own.
const PERSON: &[&str] = &[
    "real person", "a human", "representative", "operator", "call me", "call me back", "a real person", "persona real",
    "un humano", "que me llamen", "llamenme", "operadora", "operador", "agente humano", "live agent", "not a bot", "not a robot",
    "no robot", "no bot", "not a machine", "no con una maquina", "un robot", "me puede llamar", "me pueden llamar",
    "me llame alguien", "que alguien me llame", "someone call me", "somebody call me", "have someone call", "call me please",
    "callback", "call back", "get me a person", "real nurse", "return my call", "devuelva la llamada", "devolviera la llamada",
    "who do i talk to", "who can i talk to", "who should i talk to", "con quien hablo", "con quien puedo hablar", "alguien me ayuda",
    "me puede atender", "alguien me atienda", "someone help me", "alguien me llame", "give me a ring", "give me a call",
    "ring me",
];

/// Not wanting the machine is asking for a person ("I don't want to talk to a bot").
const REFUSE: &[&str] =
    &["dont want", "do not want", "no quiero", "not", "hate", "tired of", "harto de", "harta de", "doesnt understand", "no entiende"];
const MACHINE: &[&str] = &["bot", "robot", "machine", "maquina", "computer", "computadora", "chatbot", "ai"];

/// Talking verbs, and the people one talks to: near each other they ask for a person.
const TALK: &[&str] = &[
    "talk", "speak", "chat", "connect", "transfer", "put me through", "reach", "contact", "hablar", "hable", "habla", "comunicar",
    "comunique", "comunicarme", "pasame", "paseme", "pasar", "contactar", "llamar", "call", "telephone", "phone", "explain",
    "explique", "me explique",
];
const SOMEONE: &[&str] = &[
    "person", "human", "someone", "somebody", "anyone", "anybody", "nurse", "receptionist", "staff", "agent", "office",
    "doctor", "dr", "provider", "scheduler", "people", "persona", "alguien", "humano", "enfermera", "enfermero", "agente",
    "oficina", "secretaria", "doctora", "medico", "medica", "personal", "social worker", "case manager", "coordinator",
    "care team", "billing", "trabajadora social", "trabajador social", "coordinadora", "equipo", "front desk", "girl", "lady",
    "muchacha", "senorita",
];

/// Messages of one or two words that are themselves the request ("agent", "humano").
const ALONE: &[&str] = &["agent", "agente", "human", "humano", "person", "persona", "operator", "operador", "representative"];

/// The patient asks for a person.
pub fn asks_for_person(text: &str) -> bool {
    let w = words(text);
    if w.len() <= 2 && w.iter().any(|x| ALONE.contains(&x.as_str())) {
        return true;
    }
    // "Could the doctor call in my water pill": a prescription sent, not a call asked for.
    let errand = has_any(&w, ERRANDS);
    has_any(&w, PERSON) || (!errand && near(&w, TALK, SOMEONE, 4)) || near(&w, REFUSE, MACHINE, 5)
}

/// Requests that name a caller only as the one doing something else.
/// A message that only tells ("just letting you know her appointment went fine", "solo para
/// avisarles"): with no request in it, a script's keyword ("appointment") asks for nothing.
const TELLING: &[&str] = &[
    "just letting you know", "just letting yall know", "letting you know", "just wanted to let you know", "just to let you know",
    "just updating", "just an update", "fyi", "for your records", "just checking in", "solo para avisar", "nada mas para avisar", "para avisarles", "para avisarle",
    "solo queria avisar", "nomas para avisar", "para que sepan", "solo para que sepan", "les aviso que", "les informo que",
    "thank you for", "thanks for", "gracias por",
];
const REQUESTS: &[&str] = &[
    "can i", "could i", "can you", "could you", "can we", "can someone", "i need", "i want", "id like", "i would like", "please",
    "need to", "want to", "should i", "do i", "quiero", "necesito", "puedo", "pueden", "podrian", "me gustaria", "favor", "ocupo",
    "debo", "tengo que",
];

/// Does `text` only tell, with nothing asked (no question mark, no request)?
pub fn only_tells(text: &str) -> bool {
    let w = words(text);
    !text.contains('?') && has_any(&w, TELLING) && !has_any(&w, REQUESTS)
}

const ERRANDS: &[&str] = &["call in", "called in", "send in", "refill", "prescription", "receta", "resurtir"];

/// Asking phrases that are clinical questions whatever follows.
const ADVICE: &[&str] = &[
    "should i be worried", "is it normal", "is this normal", "is that normal", "is this serious", "is that serious",
    "is it serious", "is that bad", "is this bad", "is it bad", "should i go to the er", "should i go to the hospital",
    "debo preocuparme", "es normal", "es grave", "es malo", "es peligroso", "que me recomienda", "what do you recommend",
    "what would you recommend", "what can i take", "what should i take", "what should i do", "que me tomo", "que le doy",
    "que hago", "que puedo tomar", "que le puedo dar", "is this a side effect", "is that a side effect",
    "could this be a side effect", "es un efecto secundario", "sera efecto", "go to the er", "go to urgent care",
    "signs of", "watch for", "look out for", "senales de", "sintomas de", "que debo hacer", "what do i do",
    "what should we do", "worry about", "something to worry", "para preocuparse", "whats better for", "what is better for",
    "whats good for", "que es mejor para", "que es bueno para", "algo malo", "sera grave", "que tomo para", "should i worry",
    "anything i can do", "algo que pueda hacer", "a side effect of", "efecto secundario de", "que me puedo poner",
    "what does that mean", "what does this mean", "que significa", "que quiere decir", "in plain english", "worth mentioning",
    "worth coming in", "lo llevo", "la llevo", "le sigo dando", "sigo tomando", "keep taking", "keep giving", "que me echo",
    "que le echo", "que le pongo", "do i still need", "do we still need", "todavia tengo que", "still need to", "just checking",
    "se quita solo", "se quita sola", "should we be worried", "is that the med", "is it the med", "is that from",
    "how do i know if", "how can i tell if", "como se si", "is that ok", "is that okay", "is this ok", "is this okay",
    "que le hago", "que me pongo", "just healing", "part of healing", "something stronger", "algo mas fuerte",
    "something else i could try", "anything else i can try", "otra cosa que pueda", "what would happen if", "que pasa si",
];
/// In a question, these judge a clinical finding ("drainage on the bandage, normal?", "is 20 mg
/// a lot?"); outside one they are just words ("back to normal", "thanks a lot").
const JUDGED: &[&str] = &[
    "normal", "a lot", "too much", "too high", "too low", "safe", "dangerous", "mucho", "demasiado", "muy alta", "muy alto",
    "peligroso", "a problem", "un problema", "importa", "matter", "matters", "ok", "okay", "high", "low", "alto", "alta", "bajo",
    "baja", "mal", "bad",
];
/// Acts that, asked about, are themselves the clinical question ("¿me tomo dos?").
const ASKED_ACTS: &[&str] =
    &["me tomo", "le doy", "tomo otra", "me tomo otra", "take another", "take two", "take both", "me pongo", "le pongo", "wear off"];
/// Question openers, and the clinical subjects that make such a question medical advice.
const ASK: &[&str] = &[
    "should i", "should he", "should she", "can i", "can he", "can she", "could i", "may i", "is it ok", "is it okay",
    "is it safe", "is it alright", "ok to", "okay to", "safe to", "how much", "how many", "how often", "what dose",
    "do i need to", "do i have to", "puedo", "puede", "debo", "debe", "tengo que", "se puede", "cuanto", "cuanta", "cuantos",
    "cuantas", "cada cuanto", "es seguro", "when do", "when does", "when can i", "cuando puedo", "cuando me quitan",
    "do i need", "does he need", "does she need", "when i can", "if i can", "si puedo", "si ya puedo", "is it",
];
const CLINICAL: &[&str] = &[
    "take", "taking", "give", "dose", "dosage", "mg", "pill", "pills", "tablet", "tablets", "medicine", "medication", "meds",
    "drink", "beer", "wine", "alcohol", "eat", "shower", "bathe", "swim", "exercise", "drive", "lift", "stop", "skip", "double",
    "cut", "crush", "split", "mix", "worried", "symptom", "symptoms", "tylenol", "ibuprofen", "advil", "benadryl", "aspirin",
    "antibiotic", "antibiotics", "stitches", "incision", "tell the surgeon", "tomar", "tomo", "tome", "doy", "dar", "dosis",
    "pastilla", "pastillas", "medicina", "medicamento", "beber", "alcohol", "cerveza", "comer", "banar", "banarme", "manejar",
    "dejar", "saltar", "partir", "mezclar", "preocupar", "antibiotico", "paracetamol", "ibuprofeno", "aspirina", "puntos",
    "herida", "ejercicio", "gym", "work out", "go back to work", "travel", "fly", "switch", "something for", "gimnasio",
    "viajar", "volar", "algo para", "tell the surgeon", "tell the dentist", "tell the doctor", "tell my doctor", "decirle al doctor", "staples",
    "cream", "ointment", "crema", "pomada", "ponerme", "daycare", "guarderia", "come out", "surgery", "surgeon", "cirugia", "cirujano",
    "tums", "spray", "epipen", "stretch", "estirar", "pool", "piscina", "alberca", "tetanus", "tetano", "shower", "oil", "aceite",
    "tab", "tabs", "twice a day", "generic", "generico", "lie down", "acostar", "jugar", "sports", "deporte", "futbol", "play",
    "ir a trabajar", "volver a trabajar", "regresar a trabajar", "volver al trabajo", "regresar al trabajo", "go to work",
    "back to school", "go to school", "ir a la escuela", "volver a la escuela", "have sex", "tener relaciones",
];

/// Words that make a question about the visit or the prescription itself, not medical advice
/// ("can I take my appointment earlier", "how many refills do I have").
const ABOUT_CARE: &[&str] = &[
    "appointment", "appt", "visit", "slot", "reschedule", "cancel", "refill", "refills", "renew", "cita", "consulta", "turno",
    "resurtir", "renovar", "receta", "pharmacy", "farmacia", "insurance", "seguro medico", "bill", "factura", "portal", "book",
    "schedule", "payment", "pago", "pagos", "cobro", "precio", "price", "cost", "costo",
];

/// Words a question starts with when its question mark is left out.
const OPENERS: &[&str] = &[
    "should", "can", "could", "may", "is", "are", "do", "does", "how", "what", "when", "which", "puedo", "debo", "puede", "debe",
    "cuanto", "cuanta", "cuantos", "cuantas", "que", "es", "cada", "como",
];

/// Asking without a question mark: "just wondering when I can shower", "solo quiero saber si…".
const ASKING: &[&str] = &[
    "quiero saber si", "quisiera saber", "solo quiero saber", "just wondering", "wondering if", "wondering when", "was wondering",
    "me preguntaba", "queria preguntar", "quiero preguntar", "wanted to ask", "want to ask", "just checking", "just confirming",
];

/// The patient asks for medical advice, which the agent never gives.
pub fn asks_for_advice(text: &str) -> bool {
    let w = words(text);
    if has_any(&w, ABOUT_CARE) {
        return false;
    }
    let marked = text.contains('?') || text.contains('¿') || has_any(&w, ASKING);
    let question = marked || w.first().is_some_and(|f| OPENERS.contains(&f.as_str()));
    let clinical = has_any(&w, CLINICAL) || has_any(&w, FINDINGS) || w.iter().any(|x| is_dose(x));
    let judged = question && has_any(&w, JUDGED) && clinical;
    has_any(&w, ADVICE) || judged || (question && (near(&w, ASK, CLINICAL, 8) || has_any(&w, ASKED_ACTS)))
}

/// What a patient measures or notices, which a judging question is about.
const FINDINGS: &[&str] = &[
    "bp", "blood pressure", "pressure", "sugar", "glucose", "temp", "temperature", "drainage", "rash", "bruise", "bruising",
    "swelling", "cough", "presion", "azucar", "glucosa", "temperatura", "fiebre", "sarpullido", "moreton", "hinchazon", "tos",
    "a1c", "potassium", "potasio", "cholesterol", "colesterol", "tsh", "heartburn", "acidez", "lightheaded", "dizzy", "mareado",
    "mareada", "mareo", "cold", "catarro", "gripa", "gripe", "runny nose", "mocos", "itchy", "itch", "pica", "roncha", "bite",
    "picadura", "bleed", "bleeding", "sangra", "sangraron", "spit", "ears", "oido", "sinuses", "numbers", "labs", "stitches",
    "incision", "herida", "cicatriz", "scar", "tums", "supplements", "vitaminas", "vitamins", "ajo", "remedio", "te de",
];

/// "40mg", "5ml", "500mcg": a dose written as one word.
fn is_dose(word: &str) -> bool {
    ["mg", "mcg", "ml"].iter().any(|u| word.strip_suffix(u).is_some_and(|n| !n.is_empty() && n.parse::<f64>().is_ok()))
}

/// Does a phrase of `a` occur with a phrase of `b`, either order, at most `window` words between?
fn near(w: &[String], a: &[&str], b: &[&str], window: usize) -> bool {
    let spans = |list: &[&str]| list.iter().flat_map(|p| phrase_spans(w, p)).collect::<Vec<_>>();
    let a_spans = spans(a);
    if a_spans.is_empty() {
        return false;
    }
    let gap = |(a0, a1): (usize, usize), (b0, b1): (usize, usize)| if a1 <= b0 { Some(b0 - a1) } else if b1 <= a0 { Some(a0 - b1) } else { None };
    spans(b).into_iter().any(|bs| a_spans.iter().any(|&as_| gap(as_, bs).is_some_and(|g| g <= window)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_is_asked_for_in_many_ways() {
        for t in [
            "can I speak with someone in billing",
            "please transfer me to the nurse line",
            "quiero hablar con la recepcionista",
            "¿hay alguien que hable inglés?",
            "agent",
            "no quiero un robot",
            "have someone call me tomorrow",
        ] {
            assert!(asks_for_person(t), "{t}");
        }
        for t in ["I need to see a doctor next week", "book me with dr lee", "my doctor said to refill it"] {
            assert!(!asks_for_person(t), "{t}");
        }
    }

    #[test]
    fn clinical_questions_are_advice_but_questions_about_the_visit_are_not() {
        for t in [
            "can I take ibuprofen with my lisinopril",
            "how many tylenol can I give my son",
            "is 40mg of lasix too much",
            "¿puedo manejar después de la anestesia?",
            "¿cada cuánto le doy el jarabe?",
            "rash on my arm, is that normal?",
        ] {
            assert!(asks_for_advice(t), "{t}");
        }
        for t in ["can I take my appointment earlier", "how many refills do I have left", "can I book for tuesday"] {
            assert!(!asks_for_advice(t), "{t}");
        }
    }

    #[test]
    fn telling_without_asking_is_not_a_request() {
        assert!(only_tells("Just letting you know my aunt's appointment went fine, thank you for fitting her in."));
        assert!(only_tells("solo para avisarles que ya me dieron de alta"));
        assert!(!only_tells("just letting you know I need to cancel my appointment"), "a request in it");
        assert!(!only_tells("thanks for the call, can I get my refill?"), "a question");
        assert!(!only_tells("my appointment is on friday"), "nothing that only tells");
        assert!(only_tells("just letting you know I won't make it Friday"), "told, not asked: the router keeps the cancellation");
    }
}
