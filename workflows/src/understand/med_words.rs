//! What patients call their medicines instead of the name on the record: brand names and what
//! a medicine is for ("the water pill", "la de la presión", "my Lipitor"). Each entry lists the
//! generic names it can mean; `meds` picks among the patient's own list with them, so a class
//! that fits two of the patient's medicines asks which, and one that fits none decides nothing.
//! Facts about drugs (which generic a brand is, what a class holds), not patient data.

/// Brand names and other names of one generic.
pub const BRANDS: &[(&str, &str)] = &[
    ("lipitor", "atorvastatin"), ("crestor", "rosuvastatin"), ("zocor", "simvastatin"), ("pravachol", "pravastatin"),
    ("eliquis", "apixaban"), ("xarelto", "rivaroxaban"), ("coumadin", "warfarin"), ("jantoven", "warfarin"), ("pradaxa", "dabigatran"),
    ("lasix", "furosemide"), ("hctz", "hydrochlorothiazide"), ("aldactone", "spironolactone"), ("bumex", "bumetanide"),
    ("synthroid", "levothyroxine"), ("levoxyl", "levothyroxine"), ("unithroid", "levothyroxine"), ("eutirox", "levothyroxine"),
    ("levotiroxina", "levothyroxine"), ("zoloft", "sertraline"), ("prozac", "fluoxetine"), ("lexapro", "escitalopram"),
    ("celexa", "citalopram"), ("paxil", "paroxetine"), ("wellbutrin", "bupropion"), ("norvasc", "amlodipine"),
    ("zestril", "lisinopril"), ("prinivil", "lisinopril"), ("cozaar", "losartan"), ("diovan", "valsartan"),
    ("lopressor", "metoprolol"), ("toprol", "metoprolol"), ("coreg", "carvedilol"), ("lantus", "glargine"), ("basaglar", "glargine"),
    ("toujeo", "glargine"), ("semglee", "glargine"), ("humalog", "lispro"), ("novolog", "aspart"), ("levemir", "detemir"),
    ("proair", "albuterol"), ("ventolin", "albuterol"), ("proventil", "albuterol"), ("salbutamol", "albuterol"),
    ("prilosec", "omeprazole"), ("nexium", "esomeprazole"), ("protonix", "pantoprazole"), ("pepcid", "famotidine"),
    ("glucophage", "metformin"), ("januvia", "sitagliptin"), ("percocet", "oxycodone"), ("roxicodone", "oxycodone"),
    ("oxycontin", "oxycodone"), ("oxicodona", "oxycodone"), ("norco", "hydrocodone"), ("vicodin", "hydrocodone"),
    ("ultram", "tramadol"), ("neurontin", "gabapentin"), ("plavix", "clopidogrel"), ("altruline", "sertraline"),
    ("sertralina", "sertraline"), ("besitran", "sertraline"), ("glucofage", "metformin"), ("metformina", "metformin"),
];

const BLOOD_PRESSURE: &[&str] = &[
    "lisinopril", "amlodipine", "losartan", "valsartan", "metoprolol", "carvedilol", "hydrochlorothiazide", "olmesartan", "enalapril",
    "captopril", "nifedipine", "diltiazem", "chlorthalidone", "irbesartan", "atenolol",
];
const WATER: &[&str] = &["furosemide", "hydrochlorothiazide", "spironolactone", "bumetanide", "torsemide", "chlorthalidone"];
const SUGAR: &[&str] = &[
    "metformin", "insulin", "glipizide", "glyburide", "sitagliptin", "glimepiride", "empagliflozin", "semaglutide", "dapagliflozin",
    "pioglitazone", "dulaglutide", "liraglutide",
];
const CHOLESTEROL: &[&str] = &["atorvastatin", "simvastatin", "rosuvastatin", "pravastatin", "lovastatin", "ezetimibe"];
const THYROID: &[&str] = &["levothyroxine", "liothyronine", "methimazole"];
const THINNER: &[&str] = &["apixaban", "rivaroxaban", "warfarin", "dabigatran", "edoxaban", "clopidogrel"];
const BREATHING: &[&str] = &["albuterol", "fluticasone", "budesonide", "tiotropium", "salmeterol", "ipratropium", "formoterol"];
const INSULIN: &[&str] = &["insulin", "glargine", "lispro", "aspart", "detemir"];
const MOOD: &[&str] = &[
    "sertraline", "fluoxetine", "escitalopram", "citalopram", "paroxetine", "bupropion", "venlafaxine", "duloxetine", "mirtazapine",
];
const PAIN: &[&str] = &["oxycodone", "hydrocodone", "tramadol", "morphine", "acetaminophen", "ibuprofen", "naproxen", "codeine"];
const STOMACH: &[&str] = &["omeprazole", "esomeprazole", "pantoprazole", "famotidine", "lansoprazole", "ranitidine"];

/// "The one for my heart": every heart and circulation medicine.
const HEART: &[&str] = &[
    "lisinopril", "amlodipine", "losartan", "valsartan", "metoprolol", "carvedilol", "atorvastatin", "simvastatin", "rosuvastatin",
    "furosemide", "apixaban", "rivaroxaban", "warfarin", "clopidogrel", "digoxin", "spironolactone",
];

/// What a medicine is for, as patients say it, and the generics it can mean.
pub const PURPOSES: &[(&[&str], &[&str])] = &[
    (&["blood pressure", "bp", "pressure", "hypertension", "presion", "tension", "la presion", "hipertension"], BLOOD_PRESSURE),
    (
        &["water pill", "water pills", "diuretic", "fluid pill", "diuretico", "para orinar", "de orinar", "pee pill", "retencion de liquidos"],
        WATER,
    ),
    (&["sugar", "diabetes", "diabetic", "azucar", "glucosa", "glucose", "diabetis", "diabetico", "diabetica"], SUGAR),
    (&["cholesterol", "colesterol", "statin", "lipids", "trigliceridos"], CHOLESTEROL),
    (&["thyroid", "tiroides", "tiroide", "tyroid"], THYROID),
    (
        &[
            "blood thinner", "thinner", "anticoagulant", "anticoagulante", "clots", "clot", "coagulos", "adelgazar la sangre",
            "para la sangre", "afib", "a fib", "fibrilacion",
        ],
        THINNER,
    ),
    (
        &[
            "inhaler", "puffer", "asthma", "asma", "inhalador", "bomba", "pompa", "pumpito", "rescue", "para respirar", "breathing",
            "respiracion", "emphysema", "enfisema", "copd", "epoc", "bronquitis", "bronchitis",
        ],
        BREATHING,
    ),
    (&["heart", "corazon", "cardiac", "cardiaco"], HEART),
    (&["insulin", "insulina", "pen", "pluma", "shot", "injection", "inyeccion", "lapicero"], INSULIN),
    (
        &["depression", "anxiety", "depresion", "ansiedad", "nervios", "mood", "animo", "antidepressant", "antidepresivo"],
        MOOD,
    ),
    (&["pain", "painkiller", "dolor", "calmante", "analgesico", "painkillers"], PAIN),
    (&["acid", "heartburn", "reflux", "gastritis", "acidez", "agruras", "estomago", "stomach", "ulcer", "ulcera"], STOMACH),
];
