//! Red-flag rules that only make sense after an operation or a hospital stay (fever, a wound
//! that is infected), switched on by the discharge follow-up script or by a message that says
//! it comes after one; and the words that make a nearby number a temperature.

use super::rules::{Pattern::*, Rule};
use super::Category;

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
            Any(&["pus", "supura", "supurando", "red streaks", "red streak", "rayas rojas", "lineas rojas", "red lines", "red line"]),
            Near(
                &[
                    "wound", "incision", "stitches", "staples", "sutures", "cut", "scar", "surgical site", "c section", "csection",
                    "drain site", "herida", "erida", "incision", "puntos", "cicatriz", "suturas", "grapas", "cesarea", "donde me operaron",
                    "costura", "costuras", "donde me cosieron", "donde me cortaron", "belly button", "ombligo", "port site",
                    "see section", "trocar",
                ],
                &[
                    "pus", "oozing", "opened", "open", "opening", "draining", "smells", "smell", "smelly", "stinks", "stinky", "foul",
                    "infected", "leaking", "weeping", "discharge", "red", "redder", "redness", "hot", "warm", "swollen", "swelling",
                    "puffy", "angry", "angrier", "inflamed", "green", "yellow", "split", "gaping", "supura", "supurando", "abierta",
                    "abrio", "infectada", "infectado", "mal olor", "huele", "apesta", "roja", "rojo", "enrojecida", "caliente",
                    "hinchada", "hinchado", "inflamada", "verde", "amarillo", "amarilla", "liquido", "secrecion", "enconada", "enconado",
                    "materia", "morada", "morado", "abriendo", "turbio", "turbia", "purple", "verdoso", "verdosa", "puss", "gunk",
                    "cloudy", "leakin",
                ],
                6,
            ),
        ],
        vetoes: &[],
    },
];

/// Words that make a temperature reading out of a nearby number.
pub const TEMPERATURE_WORDS: &[&str] =
    &[
        "fever", "temp", "temperature", "degrees", "fiebre", "temperatura", "grados", "calentura", "thermometer", "termometro",
        "chills", "escalofrios", "spiking", "spiked", "running", "frio",
    ];
