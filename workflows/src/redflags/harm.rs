//! Red-flag rules about harm a patient may come to by their own hand or by what they took:
//! suicidal thoughts and self-harm, overdose and poisoning. Kept apart from the bodily
//! symptoms (`rules.rs`) because a clinician reviewing them reads them together.

use super::rules::{Pattern::*, Rule};
use super::Category;

/// Suicidal thoughts and self-harm, in any person, also as a wish or a plan.
pub const SUICIDAL: Rule = Rule {
    category: Category::Suicidal,
    patterns: &[
        Any(&[
            "kill myself", "killing myself", "end my life", "end my own life", "ending my life", "take my own life",
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
            "affairs in order", "unalive", "unaliving", "not around much longer", "not going to be around", "ya no voy a estar",
            "being a burden", "a burden to everyone", "a burden on everyone", "ser una carga", "no les voy a dar mas problemas",
            "no nos va a dar problemas", "ya no va a dar problemas", "regalando sus cosas", "giving away his", "giving away her",
            "giving away all", "regalando todo", "se va a tirar", "tirarse del", "tirarse de un", "se tira del", "se va a aventar",
            "aventarse", "saltar del puente", "brincar del puente", "jumping off", "despidiendose", "despidiendome",
            "se esta despidiendo", "saying goodbye to everyone", "goodbye text", "goodbye message", "goodbye video", "una soga",
            "noose", "found a rope", "pensando como hacerlo", "ya se con que", "thinking about how to do it",
            "planning how to do it", "figured out how to do it", "thank you all for everything", "gracias por todo a todos",
            "wouldnt wake up", "wont wake up ever", "offing myself", "off myself", "se quiere matar", "se va a matar",
            "pills lined up", "lined up the pills", "nothing worth it", "nada vale la pena", "quitarme de en medio",
        ]),
        // Someone else's thoughts, told by who cares for them ("he's been thinking about killing
        // himself"); not what a relative did long ago ("my mom tried to kill herself when I was 12").
        Near(
            &[
                "thinking", "thought", "thoughts", "talking", "talks", "talked", "keeps", "said", "says", "saying", "wants", "going to",
                "gonna", "threatening", "threatened", "told me", "wrote", "piensa", "pensando", "dice", "dijo", "habla",
            ],
            &[
                "kill himself", "killing himself", "kill herself", "killing herself", "kill themselves", "killing themselves",
                "take his own life", "take her own life", "end his own life", "end her own life", "matarse",
            ],
            4,
        ),
        // Letters left for the family: a goodbye.
        Near(
            &["letters", "letter", "note", "notes", "carta", "cartas", "nota", "notas"],
            &[
                "to my kids", "to my children", "to my family", "to my wife", "to my husband", "para mis hijos", "pa mis hijos",
                "a mis hijos", "para mi familia", "a mi familia", "in case", "por si", "goodbye", "despedida", "despidiendose",
            ],
            4,
        ),
        // Cutting the arms, wrists or thighs: self-harm, not a kitchen accident.
        Near(
            &["cutting", "cut", "cortando", "cortandose", "corto", "corte", "cortaba", "cortado"],
            &[
                "her arms", "his arms", "my arms", "los brazos", "sus brazos", "wrists", "wrist", "munecas", "muneca", "thighs",
                "muslos",
            ],
            3,
        ),
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
            &["been", "keep", "keeps", "again", "started", "sigo", "sigue", "otra vez", "de nuevo"],
            &[
                "cutting myself", "hurting myself", "harming myself", "burning myself", "cortandome", "lastimandome", "cortarme",
                "cut myself", "cutting himself", "cutting herself", "hurting himself", "hurting herself", "cortandose",
                "lastimandose",
            ],
            3,
        ),
        Near(
            &[
                "hurt myself", "cut myself", "burned myself", "burnt myself", "me corte", "me lastime", "me queme", "cut himself",
                "cut herself", "hurt himself", "hurt herself", "se corto", "se lastimo",
            ],
            &["on purpose", "a proposito", "intentionally", "adrede"],
            3,
        ),
    ],
    // "Mi jefe me quiere matar": someone else wants to kill me, an idiom; not wanting to die.
    vetoes: &["pelo", "cabello", "unas", "hair", "nails", "me quiere matar", "me va a matar", "nos va a matar"],
};

/// Too much of a medicine, a child into someone's pills, a household chemical swallowed.
pub const OVERDOSE: Rule = Rule {
    category: Category::Overdose,
    patterns: &[
        Any(&[
            "overdose", "overdosed", "overdosing", "sobredosis", "poisoned", "poisoning", "envenenado", "envenenada", "envenenamiento",
            "se me paso la mano con",
        ]),
        // Tasting, biting or chewing a household product counts as swallowing it.
        Near(
            &["bit into", "bit", "chewed", "licked", "mordio", "masco", "chupo", "in his mouth", "in her mouth", "en la boca"],
            &[
                "pods", "pod", "detergent", "detergente", "bleach", "cloro", "cleaner", "limpiador", "battery", "pila", "poison",
                "veneno",
            ],
            6,
        ),
        Near(
            &[
                "drank", "drink", "swallowed", "ate", "tomo", "tome", "bebio", "bebi", "trago", "trague", "se tomo", "se trago",
                "se comio", "comio",
            ],
            &[
                "bleach", "antifreeze", "detergent", "poison", "chemicals", "cleaner", "pods", "lye", "cloro", "lejia", "veneno",
                "quimicos", "detergente", "limpiador", "anticongelante", "raticida", "edibles", "gummies", "cannabis", "marijuana",
                "mothballs", "naftalina", "button battery", "batteries", "pilas", "dishwasher", "laundry pod", "tide pod", "pesticide",
                "insecticide", "gasoline", "gasolina", "kerosene", "lamp oil", "ammonia", "amoniaco", "nail polish remover",
                "quitaesmalte", "windshield", "limpiavidrios", "clorox", "pinesol", "fabuloso",
            ],
            6,
        ),
        Near(
            &[
                "took", "taken", "taking", "swallowed", "tome", "tomo", "trague", "ingeri", "se tomo", "ate", "drank", "injected", "popped",
                "inyecto", "se inyecto", "me inyecte", "me puse", "se puso", "le puse", "le di", "gave",
            ],
            &[
                "too many", "too much", "whole bottle", "entire bottle", "all my pills", "all of my pills", "all the pills",
                "all of the pills", "handful", "bunch of pills", "demasiadas", "demasiado", "demasiados", "todo el frasco",
                "todas las pastillas", "todas mis pastillas", "un frasco entero", "el frasco entero", "un punado", "double",
                "twice", "three times", "3 times", "4 times", "extra dose", "el doble", "doble", "dos veces", "tres veces",
                "de mas", "muchas pastillas", "bastantes", "a bunch", "lots of pills", "a lot of pills", "unas pastillas",
                "weeks worth", "varias", "not sure how many", "dont know how many",
                "dont remember how many", "lost count", "no se cuantas", "no me acuerdo cuantas", "no recuerdo cuantas",
                "medio frasco", "half the bottle", "half a bottle", "la mitad del frasco", "2 veces", "2 times", "2x", "x2",
                "at once", "all at once", "de un jalon", "de una vez", "whole week of",
                "a whole week", "no sabemos cuantas", "we dont know how many", "to many of", "to many pills", "rest of the bottle",
                "rest of my pills", "rest of the pills", "resto del frasco", "resto de las pastillas", "tripled", "triple",
                "third time", "a third", "tercera vez", "whole bunch",
            ],
            7,
        ),
        // "Took them all" is an overdose, and so is meaning to; "I'm taking them all" / "he takes
        // them all" is how a patient says they take every medicine prescribed, so it is not.
        Near(
            &[
                "took", "swallowed", "tome", "trague", "ingeri", "se tomo", "ate", "drank", "injected", "popped", "have taken",
                "had taken", "ive taken", "has taken", "hes taken", "shes taken", "about taking", "will take", "going to take",
                "gonna take", "want to take", "wanna take", "plan to take", "planning to take", "could just take", "should just take",
                "voy a tomar", "quiero tomar", "pienso tomar", "me las voy a tomar",
            ],
            &["them all", "all of them", "all of this", "every pill", "todas las que"],
            7,
        ),
        // A child who took pills for sweets.
        Any(&[
            "thought they were candy", "thought it was candy", "thought they were candies", "creyo que eran dulces",
            "penso que eran dulces", "crees que eran dulces", "pensando que eran dulces", "tripled my", "doubled up on my",
        ]),
        Near(
            &[
                "got into", "se trago", "se comio", "ate some", "eaten some", "may have eaten", "might have eaten", "could have eaten",
                "chewed", "se metio a la boca",
            ],
            &[
                "pills", "pill", "medicine", "medication", "meds", "tablets", "pastillas", "pastilla", "medicina", "medicinas",
                "medicamentos", "pildoras",
            ],
            6,
        ),
        Near(
            &[
                "son", "daughter", "child", "kid", "baby", "toddler", "grandson", "granddaughter", "hijo", "hija", "nino", "nina",
                "bebe", "nieto", "nieta",
            ],
            &[
                "swallowed", "got into my pills", "got into my medicine", "ate my pills", "ate some pills", "ate some of my pills",
                "se trago", "se tomo mis pastillas", "se comio mis pastillas", "se las trago", "se los trago",
            ],
            4,
        ),
    ],
    vetoes: &[
        "time", "tiempo", "long", "food", "comida", "coffee", "cafe", "alcohol", "a day", "per day", "daily", "every day",
        "al dia", "por dia", "cada dia", "diario", "diaria", "a week", "a la semana", "supposed to", "told me to", "me dijo",
        "prescribed", "recetado", "recetada", "recetaron", "of paperwork", "of forms", "de papeleo", "de trabajo", "cake", "pastel",
        "pizza", "dessert", "postre", "turkey", "pavo", "cookies", "galletas", "dinner", "cena", "lunch", "breakfast", "desayuno",
        "tamales", "junk food",
    ],
};
