//! The red-flag rule tables for bodily symptoms, English and Spanish, kept as data so a clinician
//! can review them without reading the matcher (self-harm and overdose: `harm.rs`; after a stay:
//! `rules_post.rs`). Words are written accent-free and lower case (the matcher folds messages
//! the same way); words of five letters or more also match with a typo.

use super::Category;
pub use super::rule::{Pattern, Rule};

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
                "ataque al corazon", "ataque cardiaco", "paro cardiaco", "cardiac arrest", "elephant on my", "elephant sitting",
                "elephant parked", "elefante encima", "elefante sentado", "chest bout to cave", "chest is caving", "clutching his chest",
                "clutching her chest", "clutching my chest", "grabbing his chest", "grabbing her chest", "holding his chest",
                "holding her chest", "agarrando el pecho", "agarrandose el pecho", "se agarra el pecho", "agarrandome el pecho",
            ]),
            Near(&["chest", "pecho", "pexo", "torax", "toracico", "sternum", "breastbone", "esternon"], PAIN, 6),
            Near(&["heart", "corazon", "ticker"], PAIN, 5),
            Near(&["left arm", "brazo izquierdo"], &["pain", "hurts", "hurting", "numb", "dolor", "duele", "adormecido"], 3),
        ],
        vetoes: &[
            "xray", "x ray", "radiografia", "heavy heart", "giving me a heart attack", "gave me a heart attack",
            "give me a heart attack", "nearly had a heart attack", "almost had a heart attack", "me va a dar un infarto con",
            "me dio un infarto cuando", "casi me da un infarto", "casi le da un infarto", "le va a dar un infarto",
            "pecho del pie", "amamantar", "breastfeeding", "pezones", "nipples", "lactancia", "vacuna", "vaccine", "flu shot",
            "booster", "covid shot", "when i tell him", "when i told him", "when i tell her", "when i told her", "al borde de un infarto",
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
                "wheezing badly", "cant catch my breath", "coffee stirrer", "labios azules", "blue lips", "lips blue",
                "se me corto la respiracion", "se le corto la respiracion", "se le corta la respiracion",
                "ribs sucking in", "sucking in", "se le hunden las costillas", "hunden las costillas", "huffing", "panting",
                "jadeando", "no me llega el aire", "el aire no me llega", "no le llega el aire", "sucking wind",
                "get a whole sentence out", "finish a sentence", "terminar una frase", "unas moradas", "nails are blue", "blue nails",
                "nails turning blue",
            ]),
            Near(
                &["wheezing", "wheeze", "silbando", "silbido", "chiflando", "silba", "le silba", "me silba"],
                &["bad", "badly", "worse", "still", "pecho", "mucho", "fuerte"],
                3,
            ),
            // Ribs or neck pulling in with each breath: a child working hard to breathe.
            Near(
                &["se le hunde", "se le hunden", "se hunde", "sucking in", "pulling in", "retracting", "retractions", "caving in"],
                &["costillas", "ribs", "cuello", "neck", "piel", "skin", "belly", "panza"],
                5,
            ),
            Near(
                &["inhaler", "albuterol", "nebulizer", "puffer", "inhalador", "bomba", "nebulizador", "asma", "asthma"],
                &[
                    "every hour", "cada hora", "not working", "isnt helping", "not helping", "no funciona", "no sirve", "no me hace",
                    "no me esta haciendo", "alborotada", "alborota", "flaring", "flare", "crisis", "no le hace", "no hace nada",
                    "isnt doing anything", "not doing anything", "doesnt help", "didnt help", "no ayuda", "no le ayuda",
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
                    "funny", "strange", "raro", "rara", "extrano", "fast", "rapid", "rapido", "rapida", "corto", "corta", "cortada",
                    "no me pasa", "no le pasa", "no pasa", "ruido", "noise", "noisy", "slow", "lento", "lenta",
                ],
                4,
            ),
        ],
        vetoes: &[
            "acondicionado", "fresco", "libre", "ahogada en", "ahogado en", "drowning in", "on all these", "on these forms",
            "on paperwork", "papeleo", "paperwork", "breathless waiting", "breathless with", "laughed so hard", "laughing so hard",
            "de la risa", "de risa",
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
                "tongue is heavy", "heavy tongue", "tongue feels thick", "se me chuequeo", "se le chuequeo", "se me chueco", "se le chueco",
                "boca chueca", "boca torcida", "cara chueca", "boca se me fue",
                "boca se le fue", "half my smile", "crooked smile", "smile is crooked", "smile is lopsided", "lopsided smile",
                "like a curtain", "curtain came down", "como una cortina", "cant see out of my", "couldnt see out of my",
                "cannot see out of my", "no puedo ver de un ojo", "no veo de un ojo", "perdi la vista de un ojo",
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
                    "de trapo", "floja", "flojo", "durmieron", "se me durmio", "se le durmio", "belongs to someone else",
                    "belongs to somebody else", "wont do what i tell", "no me obedece", "no le obedece",
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
                &["cant see", "cannot see", "no puedo ver", "no veo", "went dark", "lost sight", "no ve", "no puede ver", "se le nublo", "se me nublo"],
                &["eye", "eyes", "ojo", "ojos", "suddenly", "de repente", "de golpe"],
                4,
            ),
            // Confusion that came on suddenly (not the slow kind of dementia).
            Near(
                &[
                    "confused", "confusion", "confundido", "confundida", "disoriented", "desorientado", "desorientada", "no reconoce",
                    "doesnt recognize", "doesnt know where", "como ido", "como ida", "out of it", "no sabe donde",
                ],
                &["suddenly", "sudden", "all of a sudden", "de repente", "de golpe", "out of nowhere", "de la nada"],
                6,
            ),
            // One side of the face, or drooling from one side.
            Near(
                &["one side of", "un lado de", "un costado", "de un lado", "half of", "side of"],
                &["face", "cara", "boca", "mouth", "smile", "sonrisa"],
                3,
            ),
            Near(&["baba", "drool", "drooling"], &["un lado", "un costado", "one side", "side of"], 4),
            Near(
                &["se le cae", "se le caia", "se me cae", "se me caia", "dropped", "dropping", "keeps dropping"],
                &["cuchara", "vaso", "taza", "tenedor", "spoon", "cup", "fork", "de la mano"],
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
                &[
                    "speak", "talk", "talks", "talking", "speaking", "words", "speech", "hablar", "habla", "hablando", "palabras",
                ],
                &[
                    "slurred", "garbled", "jumbled", "nonsense", "gibberish", "mixed up", "not making sense", "no tiene sentido",
                    "doesnt make sense", "enredadas", "enredado", "enredada", "no le salen", "no me salen", "no le salian",
                    "no me salian", "coming out wrong", "all wrong", "arent words", "no son palabras",
                ],
                6,
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
            "going to have a stroke", "le va a dar un derrame", "de tanto", "half dead", "medio muerto", "medio muerta", "this app",
            "the app", "la app", "la aplicacion", "website", "la pagina", "when i tell him", "when i told him", "when i tell her",
            "when i told her", "giving me a stroke", "give me a stroke",
        ],
    },
    super::harm::SUICIDAL,
    super::harm::OVERDOSE,
    Rule {
        category: Category::SevereBleeding,
        patterns: &[
            Any(&[
                "hemorrhage", "hemorrhaging", "haemorrhage", "hemorragia", "desangrando", "bleeding out", "tarry", "black stool",
                "black stools", "stool is black", "heces negras", "popo negro", "black poop", "poop is black", "black like tar",
                "like tar", "caca negra", "excremento negro", "evacuaciones negras", "coughing up blood", "cough up blood",
                "coughed up blood", "spitting blood", "spitting up blood", "escupo sangre", "escupiendo sangre", "soaked through",
                "soaking through", "coffee grounds", "cafe molido", "asientos de cafe", "big clots", "salen cuajos", "coagulos grandes",
                "pouring through", "pressing on it isnt helping", "pressure isnt helping", "toilet bowl red", "toilet was full of",
                "filled the toilet", "toilet full of blood", "inodoro lleno de sangre", "taza llena de sangre", "bowl full of blood",
            ]),
            // A towel or bandage soaked through.
            Near(
                &["towel", "toalla", "gauze", "gasa", "gasas", "bandage", "venda", "vendaje", "trapo", "rag", "dressing"],
                &["pouring", "soaked", "soaking", "through", "empapada", "empapado", "empapando", "llena de sangre", "full of blood"],
                4,
            ),
            Near(
                &[
                    "stool", "stools", "poop", "bowel movement", "bm", "del bano", "popo", "caca", "heces", "excremento", "evacuacion",
                    "evacuaciones", "necesidades",
                ],
                &["black", "tar", "negro", "negra", "negras", "chapopote", "alquitran"],
                4,
            ),
            Near(
                &["pad", "pads", "toalla", "toallas", "tampon", "tampons"],
                &["every hour", "an hour", "cada hora", "cada media hora", "soaking", "soaked", "empapo", "lleno", "llenado", "llene"],
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
                    "no se me para", "no se le para", "no me para", "no le para", "isnt stopping", "wont quit",
                ],
                5,
            ),
            // Bleeding timed in minutes or hours: it has not stopped.
            Near(
                &["bleeding", "bleed", "sangre", "sangrando", "sangrado", "sangra", "nosebleed", "nose bleed"],
                &["minutes", "minutos", "min", "an hour", "una hora", "hours", "horas", "media hora", "half an hour"],
                6,
            ),
        ],
        vetoes: &[
            "test", "tests", "work", "blood pressure", "sugar", "draw", "drawn", "results", "analisis", "examen", "presion", "azucar", "glucosa",
            "donate", "type", "count", "thinner", "thinners", "floss", "flossing", "brushing", "hilo dental", "cepillo", "spotting",
            "a little", "un poquito", "poquito",
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
                "me prive", "patatus", "didnt come to", "out cold", "cayo redondo", "cayo redonda", "se le fue el conocimiento",
                "se me fue el conocimiento", "hard to keep awake", "hard to wake", "difficult to wake", "wont stay awake",
                "cuesta despertarlo", "cuesta despertarla", "no se despierta", "no contesta bien", "no responde bien", "no me contesta",
                "next thing i remember", "everything went dark", "todo se puso negro", "desperte en el suelo", "desperte en el piso",
                "desperto en el suelo", "desperto en el piso", "came to on the", "woke up on the bathroom", "cuando abri los ojos estaba",
                "when i opened my eyes i was on",
            ]),
            Near(&["feel", "feeling", "felt", "going to", "about to", "gonna"], &["faint"], 2),
        ],
        vetoes: &[
            "laughing", "laughed", "de risa", "de la risa", "conocimiento de", "screen", "pantalla", "phone", "tv", "power", "luz",
            "when they said", "when i saw", "when i heard", "cuando vi", "cuando me dijeron", "owe", "bill", "factura", "papeleo",
            "paperwork", "boredom", "aburrimiento", "en la linea", "se desmaye", "del hambre", "de hambre", "de la emocion",
            "de emocion", "de felicidad", "de alegria", "knocked me out", "slept", "del sueno", "de sueno", "del cansancio",
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
            "ataques seguidos", "kind of fit", "staring spell", "staring spells", "his fits", "her fits", "fits again", "fit again",
            "ojos volteados", "ojos en blanco", "se mordio la lengua", "bit his tongue", "bit her tongue", "temblando toda",
            "temblaba toda", "ojos para arriba", "se le voltearon los ojos", "se le fueron los ojos", "echaba espuma", "went stiff",
            "se puso duro", "se puso dura", "sacudirse todo", "sacudiendose todo", "temblar todito", "temblando todito",
        ])],
        vetoes: &[
            "de tos", "de risa", "de panico", "de ansiedad", "de nervios", "de asma", "panic attack", "anxiety attack", "when i tell him",
            "when i tell her", "when i told him", "when i told her",
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
            // Hives with the throat or breathing involved.
            Near(
                &["hives", "ronchas", "welts", "habones", "ronchitas"],
                &["swallow", "tragar", "breathe", "breathing", "respirar", "throat", "garganta", "lengua", "tongue", "lips", "labios"],
                8,
            ),
            Any(&["me hinche toda", "me hinche todo", "se hincho toda", "se hincho todo"]),
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
                    "labio", "cara", "boca", "ojos", "bemba", "campanilla", "uvula",
                ],
                &[
                    "swelling", "swollen", "swell", "swells", "swelled", "puffed", "closing", "closed", "close up", "closing up", "tight",
                    "tightening", "hinchada", "hinchado", "hinchazon", "hinchando", "inflamada", "inflamado", "cerrando", "cierra",
                    "cerrada", "puffing", "puffy", "puffed up", "blowing up", "ballooning", "se hincha", "hinchandose", "inflamando",
                    "se infla", "all swollen", "swollen shut", "hinchadisimo", "hinchadisima", "hinchadisimos", "hinchadisimas", "huge",
                    "thick", "gorda", "gordo", "enorme", "bembona", "bembon", "too big", "como un globo", "like a balloon",
                ],
                4,
            ),
        ],
        vetoes: &["from yelling", "yelling", "de gritar", "gritando", "voice", "voz"],
    },
];
