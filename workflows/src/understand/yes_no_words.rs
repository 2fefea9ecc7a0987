//! The words of yes/no answers, English and Spanish (folded), kept apart from how
//! `yes_no` reads them so that the lists can grow without burying the logic.

/// Phrases that say neither: they are taken out before the rest is read ("no sé, creo que no"
/// is a no; "no sé" alone is nothing). Minimisers ("nothing serious") go too.
pub const UNSURE: &[&str] = &[
    "dont know", "do not know", "dunno", "idk", "not sure", "no se", "no lo se", "no estoy seguro", "no estoy segura", "not certain",
    "dont remember", "do not remember", "cant remember", "no recuerdo", "no me acuerdo", "no idea", "ni idea", "maybe", "perhaps",
    "quizas", "quiza", "tal vez", "a lo mejor", "puede ser", "what do you mean", "que quiere decir", "nothing serious", "nada grave",
    "no big deal", "nothing major", "let me check", "let me ask", "need to check", "dejeme ver", "dejeme preguntar",
    "tengo que ver", "tengo que preguntar", "un dia bien y otro mal", "a ratos", "up and down", "ups and downs", "no sabria", "hard to say", "cant say", "mas o menos", "more or less", "kind of", "kinda", "sort of", "so so",
];
/// Phrases holding a "no" that mean yes; read before the single words.
pub const YES_DESPITE_NO: &[&str] = &["como no", "why not", "por que no", "no doubt", "sin duda"];
/// "I'm fine" and its kin: a yes to a plain question, a no to one about trouble.
pub const WELL: &[&str] = &[
    "no problem", "no problems", "no issues", "no complaints", "no hay problema", "ningun problema", "sin problema", "sin problemas",
    "all good", "all fine", "all set", "all normal", "all well", "im good", "im fine", "im ok", "im okay", "doing good", "doing fine",
    "doing well", "doing great", "feeling good", "feeling fine", "feeling great", "feeling well", "feel fine", "feel good", "fine",
    "good", "great", "been ok", "been okay", "been good", "been fine", "is ok", "is fine", "doing ok", "doing okay", "feeling ok",
    "estupendamente", "estupendo", "fino", "fina", "excelente", "excellent", "wonderful", "esta bien", "estoy bien", "anda bien", "ta bien", "todo bien", "todo barbaro", "barbaro", "todo normal", "todo perfecto", "muy bien", "bien", "de maravilla", "sin novedad",
];
/// Only to a question about trouble: getting better, or nothing new, is a no.
pub const NOTHING_NEW: &[&str] = &[
    "better", "feeling better", "doing better", "feel better", "mejor", "mejorando", "improving", "normal", "same as before",
    "the same", "about the same", "igual", "lo mismo", "igual que antes", "nada nuevo", "nothing new", "nothing wrong", "tranquilo",
    "tranquila", "like always", "as always", "same as it ever was", "como siempre", "de siempre",
];
/// The words of an answer itself, which outweigh the rest when an answer opens with one.
pub const SAY_YES: &[&str] =
    &["yes", "yeah", "yea", "yeh", "yah", "ye", "ys", "yep", "yup", "yas", "ya", "si", "sip", "simon", "uh huh", "mhm", "aja"];
pub const SAY_NO: &[&str] = &[
    "no", "nope", "nop", "nah", "naw", "nel", "not yet", "todavia no", "aun no", "not really", "creo que no", "mejor no", "better not",
    "rather not", "prefiero que no", "no thanks", "no gracias", "please dont", "please do not", "dont cancel",
    "no la cancele", "no lo cancele",
];
pub const YES: &[&str] = &[
    "sure", "ok", "okay", "okey", "oki", "k", "kk", "correct", "right", "affirmative", "absolutely", "definitely", "of course",
    "for sure", "indeed", "totally", "please", "please do", "confirm", "confirmed", "do it", "go ahead", "sounds good", "that works",
    "works for me", "perfect", "got them", "got it", "got em", "have them", "got everything", "got all", "all of them", "every one",
    "every single one", "everything", "grabbed them", "picked up", "picked them up", "bought them", "filled", "on time",
    "as prescribed", "like prescribed", "like they said", "as they said", "like the doctor said", "have one", "got one", "booked",
    "scheduled", "book it", "cancel it", "already", "think so", "guess so", "believe so", "suppose so", "i suppose", "claro", "vale",
    "dale", "va", "sale", "listo", "obvio", "seguro", "de una", "correcto", "exacto", "de acuerdo", "por supuesto", "confirmo",
    "perfecto", "afirmativo", "asi es", "eso es", "has all", "have all", "has them", "has everything", "me los trajo", "me las trajo", "brought them",
    "los trajo", "las trajo", "los fue a traer", "las fue a traer", "fue a traer", "took them", "taking them",
    "me las tome", "me los tome", "religiously", "religiosamente", "lovely", "would be great", "sounds great", "tiene una",
    "tengo una", "tenemos una", "cancele", "every day", "everyday", "todos los dias", "like the paper says", "like it says", "como dice", "ya los tengo", "ya lo tengo", "ya las tengo", "ya tengo", "lo hice",
    "los tengo", "las tengo", "la tengo", "lo tengo", "ya la tengo", "fui a buscar", "fue a buscar", "todas", "todos", "los recogi", "las recogi", "los compre", "las compre", "como me dijeron",
    "como me indicaron", "como dijo el doctor", "al pie de la letra", "a tiempo", "tiene cita", "tengo cita", "tenemos cita",
    "tiene una cita", "tengo una cita", "creo que si", "supongo que si", "reservela", "reservala", "cancelela", "cancelala",
];
/// "I have", "he does": a yes only where the clause ends, a no before "not" ("I have not").
pub const AUX: &[&str] =
    &["i have", "i did", "i am", "i do", "he does", "she does", "he has", "she has", "we do", "we have", "they do", "he did", "she did"];
pub const NO: &[&str] = &[
    "not", "negative", "never", "dont", "didnt", "havent", "hasnt", "couldnt", "nothing", "none", "incorrect", "wrong", "n",
    "ya no", "nunca", "jamas", "tampoco", "ninguno", "ninguna", "nada", "para nada", "incorrecto", "que va", "ni modo", "nobody", "nadie",
    "no good", "not good", "doesnt work", "dont work", "wont work", "no puedo", "no me queda", "no me sirve", "no me va", "keep it",
    "dejala", "dejelo", "dejela", "cant do", "cant make", "voy a ir", "going to get", "gonna get", "will pick",
    "going to pick", "gonna pick", "will get them", "voy a recoger", "voy a pasar", "ningun", "will be ready", "be ready", "still waiting", "waiting on", "esperando",
];
/// Asking for something else instead of what was offered: a no, or with a yes, nothing sure.
pub const OTHER: &[&str] = &[
    "instead", "anything earlier", "anything later", "anything else", "anything in the", "is there anything", "something earlier",
    "something later", "another day", "another time", "different day", "different time", "different doctor", "otro dia", "otra hora",
    "otro horario", "otro doctor", "otra doctora", "otro medico", "mas temprano", "mas tarde", "algo mas", "the week after",
    "rather wait", "prefiero esperar", "mejor el", "mejor la", "prefiero el", "prefiero la", "i prefer", "id prefer",
    "would prefer", "rather have", "mejor en", "mejor por", "only if", "as long as", "if its", "if it is",
    "siempre y cuando", "siempre que", "si se puede", "if possible", "too early", "too late", "muy temprano", "muy tarde",
];
/// Words that turn a following yes into a no ("I don't think so").
pub const NEGATORS: &[&str] = &["no", "not", "dont", "didnt", "never", "nunca"];
/// Words that open an answer without answering ("well, not really", "bueno, sí").
pub const FILLERS: &[&str] = &[
    "well", "um", "uh", "hmm", "mm", "oh", "ah", "bueno", "pues", "oye", "hi", "hello", "hola", "so", "lol", "haha", "jaja", "wait",
    "honestly", "actually", "mira", "mire", "oiga", "la", "verdad", "mera", "ok", "okay",
];
/// A yes or no taken back: the last word for yes or no is the answer ("no, wait, yes").
pub const CORRECTIONS: &[&str] = &["wait", "actually", "i mean", "digo", "perdon", "mejor dicho", "so no", "so yes", "espera"];
/// A yes cut down to part ("only some of them", "most days", "no todos", "stopped the water
/// pill"): to a plain question, a no, for the care team must hear that not all is well.
pub const PARTIAL: &[&str] = &[
    "some of them", "only some", "only one", "only the", "just one", "just the", "not all", "most of them", "all but", "except",
    "half of", "half the", "half a", "in half", "half dose", "sometimes", "instead of", "en vez de", "extra", "on off", "off on",
    "still waiting", "waiting on", "todavia espero", "estoy esperando", "se me paso", "se me pasaron", "ran out", "run out", "se me acabo", "se me acabaron", "me quede sin", "wont take",
    "refuse", "no quiere", "escupe", "doble", "double", "por error", "by mistake", "by accident", "por accidente", "most days", "mostly", "forget", "forgot", "skip", "skipped", "miss one", "miss some", "missed",
    "stopped", "quit", "the rest", "refuses", "double up", "at once", "whole bottle", "too many", "the other one", "when he remembers",
    "when she remembers", "when i remember", "solo algunos", "solo algunas", "solo uno", "solo una", "solo el", "solo la",
    "nomas una", "nomas uno", "nomas el", "nomas la", "nomas me", "nomas los", "nomas las", "namas una", "nada mas una",
    "nada mas uno", "nada mas el", "nada mas la", "nada mas me", "no todos", "no todas", "casi todos", "casi todas", "todos menos", "todas menos", "excepto", "salvo",
    "la mitad", "media", "a veces", "se me olvida", "se me olvido", "me salto", "deje", "me falto uno", "me falto una", "falta uno",
    "el otro", "la otra", "se me fue la mano", "de mas", "me faltan", "me falta uno", "me falta una", "me falta el", "me falta la", "me falto la", "me falto el", "cuando me acuerdo", "cuando se acuerda",
];
/// What new or worse symptoms sound like, to a question about trouble.
pub const TROUBLE: &[&str] = &[
    "hurt", "hurts", "hurting", "pain", "painful", "ache", "aches", "aching", "sore", "fever", "chills", "nausea", "nauseous",
    "vomit", "vomiting", "throwing up", "threw up", "dizzy", "dizziness", "lightheaded", "swollen", "swole", "swelling", "swelled",
    "puffy", "cough", "coughing", "bleeding", "blood", "rash", "itchy", "diarrhea", "constipated", "constipation", "headache",
    "worse", "worsening", "short of breath", "shortness", "winded", "out of breath", "confused", "confusion", "infection", "pus",
    "leaking", "numb", "tingling", "dolor", "duele", "doliendo", "molestia", "molestias", "fiebre", "calentura", "escalofrios",
    "nauseas", "vomito", "vomitos", "vomitando", "mareo", "mareos", "mareado", "mareada", "hinchado", "hinchada", "hinchados",
    "hinchadas", "hinchazon", "inflamado", "inflamada", "tos", "sangre", "sangrado", "sangrando", "ronchas", "picazon", "comezon",
    "diarrea", "estrenido", "estrenida", "estrenimiento", "peor", "infeccion", "entumecido", "hormigueo", "confundido",
    "confundida", "falta el aire", "falta de aire", "ahogo", "cramps", "cramping", "calambres", "tightness", "opresion", "upset",
    "drowning", "ahogando", "decimas", "muddled", "forgetful", "nosebleed", "blurry", "blurred", "borrosa", "borroso",
    "dolido", "dolio", "than before", "than usual", "que antes", "de lo normal",
];
/// Before a symptom in its clause: it is denied, old, expected or only imagined.
pub const NOT_NEW: &[&str] = &[
    "no", "not", "sin", "ni", "without", "never", "nunca", "wouldnt", "isnt", "dont", "didnt", "havent", "hasnt", "nothing", "nada",
    "ningun", "ninguna", "still", "todavia", "sigue", "same", "usual", "ordinary", "normal", "regular", "if", "what", "better",
    "mejor", "less", "menos", "always", "siempre",
];
/// After these, a "no" is the answer word itself ("no, thanks", "no I haven't", "no señor").
pub const AFTER_SAID: &[&str] = &[
    "i", "im", "ive", "we", "it", "its", "thanks", "thank", "gracias", "senor", "senora", "doctor", "doctora", "not", "nothing",
    "nada", "estoy", "todo", "sir", "maam", "way", "never", "none", "ninguno", "ninguna", "para", "nope", "wait", "espera",
    "actually", "he", "she", "they", "hes", "shes", "mam", "joven", "mija", "mijo",
];
/// After a symptom asked about in a checklist, the answer for it ("chest pain? no").
pub const CHECKED: &[&str] = &["no", "nope", "none", "fine", "good", "nada", "bien", "ninguno", "ok", "okay", "normal"];
/// After a symptom in its clause: it is easing or no worse than before.
pub const EASING: &[&str] = &[
    "better", "mejor", "gone", "less", "improving", "paso", "quito", "bajando", "easing", "subsiding", "disminuyendo", "igual",
    "igualita", "igualito", "same", "down", "went down", "siempre",
];
/// Before a part of a yes, a word that denies it ("haven't missed", "never skip").
pub const NEGATED_PARTIAL: &[&str] = &["havent", "hasnt", "never", "dont", "didnt", "not", "no", "nunca", "without", "sin"];
/// A yes said with doubt: followed by "but" or a question mark, it is asked again ("I think so?
/// My daughter handles all that", "creo que sí, aunque no sé si eso cuenta").
pub const HEDGED: &[&str] = &["think so", "believe so", "guess so", "suppose so", "creo que si", "supongo que si", "i think"];
