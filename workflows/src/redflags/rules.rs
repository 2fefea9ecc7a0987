//! The red-flag rule tables, English and Spanish, kept as data so a clinician can review them
//! without reading the matcher. Words are written accent-free and lower case (the matcher
//! folds messages the same way); words of five letters or more also match with a typo.

use super::Category;

/// One way a category shows up in a message.
pub enum Pattern {
    /// Any of these phrases.
    Any(&'static [&'static str]),
    /// A phrase of the first list within `window` words of one of the second, either order.
    Near(&'static [&'static str], &'static [&'static str], usize),
}

pub struct Rule {
    pub category: Category,
    pub patterns: &'static [Pattern],
    /// A clause holding one of these is about something else ("blood pressure", "aire acondicionado").
    pub vetoes: &'static [&'static str],
}

use Pattern::*;

const PAIN: &[&str] = &[
    "pain", "pains", "painful", "hurt", "hurts", "hurting", "ache", "aches", "aching", "achy", "tight", "tightness", "tightening",
    "pressure", "squeezing", "squeeze", "crushing", "heavy", "heaviness", "weight", "elephant", "sore", "discomfort", "stabbing", "dolor",
    "dolores", "duele", "dolia", "doliendo", "molestia", "molestias", "opresion", "presion", "apretado", "apretada", "aprieta",
    "apretando", "pesadez", "punzada", "punzadas", "dolorcito", "squeezed", "crushed",
];

pub const CORE: &[Rule] = &[
    Rule {
        category: Category::ChestPain,
        patterns: &[
            Any(&[
                "sitting on my chest", "weight on my chest", "heart attack", "heartattack", "chestpain", "angina", "infarto",
                "ataque al corazon", "ataque cardiaco", "paro cardiaco", "cardiac arrest",
            ]),
            Near(&["chest", "pecho", "pexo", "torax", "toracico", "sternum", "breastbone", "esternon"], PAIN, 6),
            Near(&["heart", "corazon", "ticker"], PAIN, 5),
            Near(&["left arm", "brazo izquierdo"], &["pain", "hurts", "hurting", "numb", "dolor", "duele", "adormecido"], 3),
        ],
        vetoes: &[
            "xray", "x ray", "radiografia", "heavy heart", "giving me a heart attack", "gave me a heart attack",
            "give me a heart attack", "nearly had a heart attack", "almost had a heart attack", "me va a dar un infarto con",
            "me dio un infarto cuando", "casi me da un infarto", "casi le da un infarto", "le va a dar un infarto",
            "pecho del pie", "amamantar", "breastfeeding", "pezones", "nipples", "lactancia",
        ],
    },
    Rule {
        category: Category::Breathing,
        patterns: &[
            Any(&[
                "breathless", "winded", "asthma attack", "ataque de asma", "inhaler isnt working", "inhaler isnt helping",
                "inhaler not working", "inhaler is not working", "not breathing", "isnt breathing", "stopped breathing", "no respira",
                "dejo de respirar", "cant get enough air", "cannot get enough air", "not getting enough air", "cant get air", "air hunger",
                "gasping for air", "short of breath", "shortness of breath", "out of breath", "gasping", "choking", "suffocating",
                "lips are blue", "lips turning blue", "turning blue", "me ahogo", "ahogando", "ahogo", "asfixia", "asfixiando",
                "falta de aire", "labios morados", "no me entra el aire", "through a straw", "por un popote", "por una pajita",
                "wheezing badly", "cant catch my breath",
                "ribs sucking in", "sucking in", "se le hunden las costillas", "hunden las costillas", "huffing", "panting",
                "jadeando",
            ]),
            Near(&["wheezing", "wheeze", "silbando", "silbido", "chiflando"], &["bad", "badly", "worse", "still", "pecho", "mucho", "fuerte"], 3),
            Near(
                &["inhaler", "albuterol", "nebulizer", "puffer", "inhalador", "bomba", "nebulizador", "asma", "asthma"],
                &[
                    "every hour", "cada hora", "not working", "isnt helping", "not helping", "no funciona", "no sirve", "no me hace",
                    "no me esta haciendo", "alborotada", "alborota", "flaring", "flare", "crisis",
                ],
                5,
            ),
            Near(
                &["breathe", "breath", "breathing", "respirar", "respiro", "respirando", "respira", "respiracion", "aire", "aliento"],
                &[
                    "cant", "cannot", "couldnt", "could not", "unable", "not able", "hard", "harder", "difficult", "difficulty", "trouble",
                    "struggling", "struggle", "short", "shortness", "catch", "labored", "laboured", "problems", "problem", "barely",
                    "hardly", "bad", "worse", "worsening", "terrible", "awful", "mal", "peor", "no puedo", "no podia", "no pude", "falta",
                    "dificultad", "cuesta", "costaba", "problemas", "apenas", "no alcanzo", "no le entra", "no me entra", "batallando", "weird",
                    "funny", "strange", "raro", "rara", "extrano", "fast", "rapid", "rapido", "rapida",
                ],
                4,
            ),
        ],
        vetoes: &[
            "acondicionado", "fresco", "libre", "ahogada en", "ahogado en", "drowning in", "on all these", "on these forms",
            "on paperwork", "papeleo", "paperwork",
        ],
    },
    Rule {
        category: Category::Stroke,
        patterns: &[
            Any(&[
                "stroke", "mini stroke", "derrame", "ictus", "embolia", "accidente cerebrovascular", "slurred", "slurring",
                "arrastrando las palabras", "arrastro las palabras", "habla arrastrada", "worst headache", "peor dolor de cabeza",
                "double vision", "vision doble", "veo doble", "lost my vision", "lost vision", "loss of vision", "went blind",
                "perdi la vista", "perdida de vision", "me quede ciego", "me quede ciega", "keep dropping", "dropping things",
                "dropping stuff", "keeps dropping", "kept dropping", "se me caen las cosas", "se me cae lo que", "se le cae lo que", "lengua pesada", "tongue feels heavy",
                "tongue is heavy", "heavy tongue", "tongue feels thick",
            ]),
            // One limb or one side gone weak, numb or heavy.
            Near(
                &[
                    "arm", "arms", "leg", "hand", "side", "half", "brazo", "pierna", "mano", "lado", "mitad", "medio cuerpo",
                ],
                &[
                    "weak", "weaker", "weakness", "numb", "numbness", "heavy", "dead", "limp", "paralyzed", "paralysed", "cant move",
                    "cannot move", "cant lift", "cannot lift", "cant feel", "wont move", "debil", "debilidad", "sin fuerza", "pesado",
                    "pesada", "dormido", "dormida", "durmio", "entumido", "entumida", "entumecido", "entumecida", "adormecido",
                    "adormecida", "paralizado", "paralizada", "no puedo mover", "no puede mover", "no lo puede mover", "no la puede mover",
                    "no siento", "no siente", "no la puedo mover", "no lo puedo mover", "no puedo moverla", "no puedo moverlo",
                    "de trapo", "floja", "flojo",
                ],
                4,
            ),
            // Sight gone suddenly.
            Near(
                &["vision", "vista", "sight", "eye", "ojo"],
                &["de golpe", "suddenly", "sudden", "de repente", "se me fue", "se apago", "went black", "went dark", "lost", "perdi"],
                4,
            ),
            Near(
                &["face", "cara", "mouth", "boca", "smile", "sonrisa", "eyelid", "parpado"],
                &[
                    "droop", "drooping", "droopy", "drooped", "sagging", "crooked", "lopsided", "numb", "caida", "caido", "torcida",
                    "torcido", "paralizada", "paralizado", "dormida", "entumecida", "colgando", "chueca", "chueco", "ladeada",
                ],
                4,
            ),
            Near(
                &[
                    "one side", "left side", "right side", "half of my", "un lado", "lado izquierdo", "lado derecho", "mitad del cuerpo",
                    "mitad de mi",
                ],
                &[
                    "numb", "numbness", "weak", "weakness", "paralyzed", "paralysed", "cant move", "cannot move", "cant feel", "dormido",
                    "dormida", "entumecido", "entumecida", "debil", "debilidad", "paralizado", "paralizada", "no puedo mover", "no siento",
                ],
                5,
            ),
            Near(
                &["headache", "dolor de cabeza", "migraine"],
                &["worst", "sudden", "suddenly", "thunderclap", "peor", "repentino", "de repente", "de golpe"],
                3,
            ),
            Near(
                &["cant see", "cannot see", "no puedo ver", "no veo", "went dark", "lost sight"],
                &["eye", "eyes", "ojo", "ojos", "suddenly", "de repente"],
                4,
            ),
            Near(
                &["suddenly", "sudden", "de repente", "repentina", "repentino", "de golpe"],
                &[
                    "numb", "numbness", "weak", "weakness", "paralyzed", "entumecido", "entumecida", "adormecido", "adormecida",
                    "debilidad", "paralizado", "paralizada",
                ],
                5,
            ),
            Near(
                &["speak", "talk", "talking", "speaking", "words", "speech", "hablar", "habla", "palabras", "lengua", "tongue"],
                &[
                    "slurred", "garbled", "jumbled", "trouble", "difficulty", "hard time", "dificultad", "cuesta", "trabada", "trabo",
                    "no puedo hablar bien", "funny", "weird", "strange", "strangely", "wrong", "nonsense", "gibberish", "cant find",
                    "cannot find", "raro", "rara", "extrano", "extrana", "chistoso", "enredado", "enredada", "no le salen", "no me salen",
                    "no puede hablar", "no podia hablar", "mixed up", "no puede decir", "no podia decir", "cant say", "cant get",
                    "trabo", "trabada", "trabo la",
                ],
                3,
            ),
        ],
        vetoes: &[
            "heat stroke", "golpe de calor", "brush", "luck", "swim", "swimming", "english", "ingles", "language", "idioma",
            "interpreter", "interprete", "translator", "traductor", "dentist", "dentista", "novocaine", "novocain", "lidocaine",
            "anesthesia", "anestesia", "numbing", "slept on", "sleeping on", "dormi encima", "dormi sobre", "gonna have a stroke",
            "going to have a stroke", "le va a dar un derrame", "de tanto",
        ],
    },
    Rule {
        category: Category::Suicidal,
        patterns: &[
            Any(&[
                "kill myself", "killing myself", "kill my self", "end my life", "end my own life", "ending my life", "take my own life",
                "take my life", "end it all", "ending it all", "suicide", "suicidal", "want to die", "wanna die", "wish i was dead",
                "wish i were dead", "better off dead", "better off without me", "dont want to live", "dont want to be alive",
                "dont want to be here anymore", "dont want to wake up", "no reason to live", "nothing to live for", "no point living",
                "no point in living", "not worth living", "isnt worth living", "never wake up", "dont see the point",
                "whats the point of living", "no le veo sentido", "no tiene sentido vivir", "self harming", "no despertar nunca",
                "dormir para siempre", "self harm", "selfharm", "hang myself", "rather be dead", "rather die", "prefiero estar muerto",
                "prefiero estar muerta", "prefiero morir", "prefiero morirme", "me quiero matar", "me mato", "shoot myself", "cant go on",
                "suicidio", "suicidarme", "suicida", "suicidar", "matarme", "me voy a matar", "quitarme la vida", "acabar con mi vida",
                "terminar con mi vida", "acabar con todo", "terminar con todo", "no quiero vivir", "no quiero seguir viviendo",
                "quiero morir", "quiero morirme", "me quiero morir", "ganas de morir", "ganas de morirme", "mejor muerto", "mejor muerta",
                "no vale la pena vivir", "no tengo razon para vivir", "no tengo por que vivir", "desaparecer para siempre",
                "tired of living", "tired of life", "sick of living", "done with life", "done with living", "cansado de vivir",
                "cansada de vivir", "harto de vivir", "harta de vivir", "mejor sin mi", "better off without her",
                "better off without him", "not being here anymore", "not be here anymore", "not to be here anymore",
                "disappear for good", "disappear forever", "point anymore", "point of anything", "point in anything",
                "no estar aqui", "ya no estar", "quitarse la vida", "saving up my pills", "saving my pills", "stockpiling",
                "hoarding my pills", "guardando pastillas", "guardando mis pastillas", "juntando pastillas", "no point anymore",
                "no point in anything", "wont be around much longer", "mejor me muero", "que sentido tiene seguir",
                "q sentido tiene seguir", "if i was gone", "if i were gone", "feel like a burden", "im a burden", "such a burden",
                "soy una carga", "me siento una carga", "i didnt exist", "i just didnt exist", "not exist anymore", "stop existing",
                "dejar de existir", "no existir", "idk if ill still be here", "dont know if ill still be here",
                "no se si voy a seguir aqui", "engine running", "sorry for everything", "perdon por todo", "texted me goodbye",
                "goodbye note", "goodbye letter", "carta de despedida", "se despidio de", "keep cutting", "cutting again",
                "me volvi a cortar", "not wake up", "jump off a bridge", "jump off the", "me tiro del", "tirarme del", "tirarme de un",
                "aventarme", "me aviento", "para que sigo aqui", "pa que sigo", "pa q sigo", "pastillas juntadas",
                "pastiyas juntadas", "tengo las pastillas juntas", "giving away my", "regalando mis cosas", "things in order before",
                "affairs in order", "unalive", "unaliving",
            ]),
            // Someone wanting to die or to kill themselves, in any person.
            Near(
                &[
                    "want", "wants", "wanted", "wanting", "wanna", "wish", "wishes", "quiere", "quiero", "queria", "quieres", "ganas",
                    "deseo", "desea",
                ],
                &[
                    "die", "dead", "morir", "morirme", "morirse", "matarme", "matarse", "matar", "suicidarse", "kill himself",
                    "kill herself", "kill themselves", "end it", "end his life", "end her life", "kms",
                ],
                2,
            ),
            Near(
                &[
                    "want", "wanna", "going", "gonna", "thinking", "thought", "thoughts", "urge", "urges", "quiero", "ganas", "pienso",
                    "pensando", "voy a", "pense", "pensaba", "pensamientos", "think",
                ],
                &[
                    "hurt myself", "harm myself", "hurting myself", "harming myself", "cut myself", "cutting myself", "cortarme",
                    "lastimarme", "hacerme dano", "take all my pills", "taking all my pills", "take all of my pills",
                    "tomarme todas las pastillas", "tomar todas mis pastillas", "ending it", "ending things", "ending my life",
                ],
                4,
            ),
            Near(
                &["been", "keep", "again", "started", "sigo", "otra vez", "de nuevo"],
                &[
                    "cutting myself", "hurting myself", "harming myself", "burning myself", "cortandome", "lastimandome", "cortarme",
                    "cut myself",
                ],
                3,
            ),
            Near(
                &["hurt myself", "cut myself", "burned myself", "burnt myself", "me corte", "me lastime", "me queme"],
                &["on purpose", "a proposito", "intentionally", "adrede"],
                3,
            ),
        ],
        vetoes: &["pelo", "cabello", "unas", "hair", "nails"],
    },
    Rule {
        category: Category::Overdose,
        patterns: &[
            Any(&[
                "overdose", "overdosed", "overdosing", "sobredosis", "poisoned", "poisoning", "envenenado", "envenenada", "envenenamiento",
                "se me paso la mano con",
            ]),
            Near(
                &[
                    "drank", "drink", "swallowed", "ate", "tomo", "tome", "bebio", "bebi", "trago", "trague", "se tomo", "se trago",
                    "se comio", "comio",
                ],
                &[
                    "bleach", "antifreeze", "detergent", "poison", "chemicals", "cleaner", "pods", "lye", "cloro", "lejia", "veneno",
                    "quimicos", "detergente", "limpiador", "anticongelante", "raticida", "edibles", "gummies", "cannabis", "marijuana",
                    "mothballs", "naftalina", "button battery", "batteries", "pilas",
                ],
                4,
            ),
            Near(
                &[
                    "took", "taken", "taking", "swallowed", "tome", "tomo", "trague", "ingeri", "se tomo", "ate", "drank", "injected",
                    "inyecto", "se inyecto", "me inyecte", "me puse", "se puso", "le puse", "le di", "gave",
                ],
                &[
                    "too many", "too much", "whole bottle", "entire bottle", "all my pills", "all of my pills", "all the pills",
                    "all of the pills", "handful", "bunch of pills", "demasiadas", "demasiado", "demasiados", "todo el frasco",
                    "todas las pastillas", "todas mis pastillas", "un frasco entero", "el frasco entero", "un punado", "double",
                    "twice", "three times", "3 times", "4 times", "extra dose", "el doble", "doble", "dos veces", "tres veces",
                    "de mas", "muchas pastillas", "bastantes", "a bunch", "lots of pills", "a lot of pills", "them all",
                    "all of them", "unas pastillas", "all of this", "weeks worth", "varias", "not sure how many", "dont know how many",
                    "dont remember how many", "lost count", "no se cuantas", "no me acuerdo cuantas", "no recuerdo cuantas",
                    "medio frasco", "half the bottle", "half a bottle", "la mitad del frasco",
                ],
                7,
            ),
            Near(
                &["got into", "se trago", "se comio", "ate some"],
                &[
                    "pills", "pill", "medicine", "medication", "meds", "tablets", "pastillas", "pastilla", "medicina", "medicinas",
                    "medicamentos", "pildoras",
                ],
                4,
            ),
            Near(
                &[
                    "son", "daughter", "child", "kid", "baby", "toddler", "grandson", "granddaughter", "hijo", "hija", "nino", "nina",
                    "bebe", "nieto", "nieta",
                ],
                &[
                    "swallowed", "got into my pills", "got into my medicine", "ate my pills", "ate some pills", "ate some of my pills",
                    "se trago", "se tomo mis pastillas", "se comio mis pastillas",
                ],
                4,
            ),
        ],
        vetoes: &[
            "time", "tiempo", "long", "food", "comida", "coffee", "cafe", "alcohol", "a day", "per day", "daily", "every day",
            "al dia", "por dia", "cada dia", "diario", "diaria", "a week", "a la semana", "supposed to", "told me to", "me dijo",
            "prescribed", "recetado", "recetada", "recetaron", "of paperwork", "of forms", "de papeleo", "de trabajo",
        ],
    },
    Rule {
        category: Category::SevereBleeding,
        patterns: &[
            Any(&[
                "hemorrhage", "hemorrhaging", "haemorrhage", "hemorragia", "desangrando", "bleeding out", "tarry", "black stool",
                "black stools", "stool is black", "heces negras", "popo negro", "black poop", "poop is black", "black like tar",
                "like tar", "caca negra", "excremento negro", "evacuaciones negras", "coughing up blood", "cough up blood",
                "coughed up blood", "spitting blood", "spitting up blood", "escupo sangre", "escupiendo sangre", "soaked through",
                "soaking through", "coffee grounds", "cafe molido", "asientos de cafe", "big clots", "salen cuajos", "coagulos grandes",
            ]),
            Near(
                &[
                    "stool", "stools", "poop", "bowel movement", "bm", "del bano", "popo", "caca", "heces", "excremento", "evacuacion",
                    "evacuaciones",
                ],
                &["black", "tar", "negro", "negra", "negras", "chapopote", "alquitran"],
                4,
            ),
            Near(
                &["pad", "pads", "toalla", "toallas", "tampon", "tampons"],
                &["every hour", "an hour", "cada hora", "cada media hora", "soaking", "soaked", "empapo", "lleno"],
                4,
            ),
            Near(
                &[
                    "cant", "cannot", "couldnt", "unable", "havent been able", "hasnt been able", "not able", "no puedo", "no podemos",
                    "no logro",
                ],
                &["stop the bleeding", "stop bleeding", "stop the blood", "parar el sangrado", "detener el sangrado", "parar la sangre"],
                3,
            ),
            Near(
                &[
                    "bleeding", "bleed", "bleeds", "bled", "blood", "bloody", "sangre", "sangrando", "sangrado", "sangra", "sangrar",
                    "nosebleed", "nosebleeds", "nose bleed",
                ],
                &[
                    "heavily", "heavy", "a lot", "lots", "lot of", "so much", "too much", "wont stop", "cant stop", "doesnt stop",
                    "not stopping", "will not stop", "everywhere", "soaked", "soaking", "pouring", "gushing", "spurting", "through",
                    "vomiting", "vomit", "vomited", "throwing up", "threw up", "coughing", "coughed", "puking", "mucho", "mucha",
                    "muchisima", "muchisimo", "abundante", "no para", "no deja", "no se detiene", "no se para", "por todos lados",
                    "empapado", "empapada", "empapando", "vomitando", "vomito", "vomite", "tosiendo", "tosi", "chorros", "toso", "tose",
                    "tosio", "over an hour", "for hours", "hasnt stopped", "keeps bleeding", "nonstop", "non stop", "sin parar",
                ],
                5,
            ),
        ],
        vetoes: &[
            "test", "tests", "work", "blood pressure", "sugar", "draw", "drawn", "results", "analisis", "examen", "presion", "azucar", "glucosa",
            "donate", "type", "count", "thinner", "thinners",
        ],
    },
    Rule {
        category: Category::LossOfConsciousness,
        patterns: &[
            Any(&[
                "fainted", "fainting", "passed out", "pass out", "passing out", "blacked out", "black out", "blacking out", "blackout",
                "lost consciousness", "lose consciousness", "losing consciousness", "loss of consciousness", "unconscious", "unresponsive",
                "collapsed", "wont wake up", "cant wake", "not waking up", "desmaye", "desmayo", "desmayado", "desmayada", "desmayarme",
                "desmaya", "perdi el conocimiento", "perdio el conocimiento", "perdi la conciencia", "perdio la conciencia",
                "inconsciente", "no reacciona", "no despierta", "no responde", "not responding", "se desvanecio", "me desvaneci",
                "desvanecio", "perdio el sentido", "perdi el sentido", "went limp", "keeled over", "woke up on the floor",
                "came to on the floor", "knocked out", "woke up on the", "dont remember falling", "do not remember falling",
                "no recuerdo como me cai", "no me acuerdo como me cai", "volver en si", "volvio en si", "se cayo redondo", "se cayo redonda",
                "quedado sin sentido", "quede sin sentido", "quedo sin sentido", "went black", "se me fue el mundo",
                "next thing i know", "next thing i knew", "cai redonda", "cai redondo", "keep him awake", "keep her awake",
                "cant wake", "no lo puedo despertar", "no la puedo despertar", "vahido", "se quedo tirado", "se quedo tirada", "se privo",
                "me prive", "patatus",
            ]),
            Near(&["feel", "feeling", "felt", "going to", "about to", "gonna"], &["faint"], 2),
        ],
        vetoes: &[
            "laughing", "laughed", "de risa", "de la risa", "conocimiento de", "screen", "pantalla", "phone", "tv", "power", "luz",
            "when they said", "when i saw", "when i heard", "cuando vi", "cuando me dijeron", "owe", "bill", "factura", "papeleo",
            "paperwork", "boredom", "aburrimiento", "en la linea",
        ],
    },
    Rule {
        category: Category::Seizure,
        patterns: &[Any(&[
            "seizure", "seizures", "seizing", "convulsion", "convulsions", "convulsing", "convulsiones", "convulsionando",
            "ataque epileptico", "convulsed", "convulsiono", "had a fit", "epileptic fit", "eyes rolled back", "eyes rolling back",
            "eyes rolled up", "shaking all over", "jerking all over", "uncontrollable shaking", "foaming at the mouth",
            "espuma por la boca", "le dio un ataque", "me dio un ataque", "tuvo un ataque", "se puso tieso", "se puso tiesa",
            "se puso rigido", "se puso rigida", "temblaba todo", "temblando todo", "crisis convulsiva", "crisis epileptica",
            "ataque de epilepsia", "jerking", "sacudiendo", "sacudidas", "had another fit", "having fits", "crisis seguidas",
            "ataques seguidos", "kind of fit", "staring spell", "staring spells",
        ])],
        vetoes: &[
            "de tos", "de risa", "de panico", "de ansiedad", "de nervios", "de asma", "panic attack", "anxiety attack",
        ],
    },
    Rule {
        category: Category::SevereAllergicReaction,
        patterns: &[
            Any(&["anaphylaxis", "anaphylactic", "anafilaxia", "anafilactico", "anafilactica"]),
            // Using the pen is the emergency; asking for one is a refill.
            Near(
                &["used", "use", "gave", "give", "had to", "injected", "usar", "use mi", "le puse", "le di", "me puse"],
                &["epipen", "epi pen", "epinephrine", "epinefrina"],
                3,
            ),
            Near(&["allergic", "allergy", "alergica", "alergico"], &["reaction", "reaccion"], 2),
            Any(&[
                "toda hinchada", "todo hinchado", "swollen all over", "swelling all over", "hinchada toda", "hinchado todo",
                "hinchado como", "hinchada como", "swollen like", "puffed up like", "its closing up", "like its closing",
            ]),
            Near(
                &["sting", "stung", "bee", "wasp", "picadura", "pico", "avispa", "abeja"],
                &["swollen", "swelling", "hinchado", "hinchada", "hinchazon", "hives", "ronchas", "breathe", "respirar"],
                5,
            ),
            Near(
                &[
                    "throat", "tongue", "lips", "lip", "face", "mouth", "eyes", "garganta", "gaznate", "garguero", "lengua", "labios",
                    "labio", "cara", "boca", "ojos",
                ],
                &[
                    "swelling", "swollen", "swell", "swells", "swelled", "puffed", "closing", "closed", "close up", "closing up", "tight",
                    "tightening", "hinchada", "hinchado", "hinchazon", "hinchando", "inflamada", "inflamado", "cerrando", "cierra",
                    "cerrada", "puffing", "puffy", "puffed up", "blowing up", "ballooning", "se hincha", "hinchandose", "inflamando",
                    "se infla", "all swollen", "swollen shut", "hinchadisimo", "hinchadisima", "hinchadisimos", "hinchadisimas",
                ],
                4,
            ),
        ],
        vetoes: &["from yelling", "yelling", "de gritar", "gritando", "voice", "voz"],
    },
];

/// Rules that only make sense after a hospital stay or surgery.
pub const POST_DISCHARGE: &[Rule] = &[
    Rule {
        category: Category::HighFeverAfterSurgery,
        patterns: &[Any(&[
            "fever", "feverish", "febrile", "high temperature", "running a temp", "fiebre", "calentura", "febril", "temperatura alta",
            "burning up", "hot with chills", "chills and sweats", "ardiendo en fiebre",
        ])],
        vetoes: &[],
    },
    Rule {
        category: Category::WoundInfection,
        patterns: &[
            Any(&["pus", "supura", "supurando", "red streaks", "red streak", "rayas rojas", "lineas rojas"]),
            Near(
                &[
                    "wound", "incision", "stitches", "staples", "sutures", "cut", "scar", "surgical site", "c section", "csection",
                    "drain site", "herida", "erida", "incision", "puntos", "cicatriz", "suturas", "grapas", "cesarea", "donde me operaron",
                ],
                &[
                    "pus", "oozing", "opened", "open", "opening", "draining", "smells", "smell", "smelly", "stinks", "stinky", "foul",
                    "infected", "leaking", "weeping", "discharge", "red", "redder", "redness", "hot", "warm", "swollen", "swelling",
                    "puffy", "angry", "angrier", "inflamed", "green", "yellow", "split", "gaping", "supura", "supurando", "abierta",
                    "abrio", "infectada", "infectado", "mal olor", "huele", "apesta", "roja", "rojo", "enrojecida", "caliente",
                    "hinchada", "hinchado", "inflamada", "verde", "amarillo", "amarilla", "liquido", "secrecion", "enconada", "enconado",
                    "materia",
                ],
                5,
            ),
        ],
        vetoes: &[],
    },
];

/// Words that make a temperature reading out of a nearby number.
pub const TEMPERATURE_WORDS: &[&str] =
    &[
        "fever", "temp", "temperature", "degrees", "fiebre", "temperatura", "grados", "calentura", "thermometer", "termometro",
        "chills", "escalofrios", "spiking",
    ];
