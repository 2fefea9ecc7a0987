//! A byte-level state machine for compact JSON valid against a [`Schema`]: it says whether a
//! byte string keeps the output a valid prefix. The constrained decoder asks it about candidate
//! tokens (best-scored first) and advances it with the chosen one, so every answer is valid by
//! construction. No whitespace outside strings: the model cannot stall on spaces.

use crate::schema::Schema;

#[derive(Clone, Debug)]
enum ObjStage {
    Open,
    /// After `{` (`first`) or `,`: a key, or `}` when allowed.
    KeyStart { first: bool },
    Key(Vec<u8>),
    Colon(usize),
    AfterValue,
}

#[derive(Clone, Debug)]
enum StrStage {
    Open,
    Body,
    Escape,
    /// Inside `\uXXXX`: hex digits read so far, and whether the first was `D` (a surrogate
    /// range `D800`–`DFFF` is refused: alone it is invalid JSON, and astral characters can be
    /// written as plain UTF-8 instead).
    Unicode(u8, bool),
}

#[derive(Clone, Debug)]
enum Frame<'a> {
    Obj { props: &'a [(String, Schema)], required: &'a [bool], next: usize, stage: ObjStage },
    Enum { values: &'a [String], matched: Option<Vec<u8>> },
    /// `next_utf8`: the range the next continuation byte must fall in (strict UTF-8: no
    /// overlong forms, no surrogates, nothing past U+10FFFF).
    Str { max_len: usize, date: bool, stage: StrStage, chars: usize, utf8_left: u8, next_utf8: (u8, u8), text: Vec<u8> },
    Int { min: i64, max: i64, neg: bool, digits: u32, value: i128, started: bool },
    Bool { matched: Vec<u8> },
}

enum Step {
    Consumed,
    /// Byte consumed and the value is complete.
    Finished,
    /// The value ended before this byte; the parent must take it.
    EndedBefore,
}

/// Parser state; cheap to clone (a few frames).
#[derive(Clone, Debug)]
pub struct JsonGrammar<'a> {
    stack: Vec<Frame<'a>>,
    complete: bool,
}

fn frame_for(schema: &Schema) -> Frame<'_> {
    match schema {
        Schema::Object { props, required } => Frame::Obj { props, required, next: 0, stage: ObjStage::Open },
        Schema::Enum(values) => Frame::Enum { values, matched: None },
        Schema::String { max_len, date } => Frame::Str {
            max_len: *max_len, date: *date, stage: StrStage::Open, chars: 0, utf8_left: 0, next_utf8: (0x80, 0xBF), text: Vec::new(),
        },
        Schema::Integer { min, max } => Frame::Int { min: *min, max: *max, neg: false, digits: 0, value: 0, started: false },
        Schema::Boolean => Frame::Bool { matched: Vec::new() },
    }
}

impl<'a> JsonGrammar<'a> {
    pub fn new(schema: &'a Schema) -> Self {
        Self { stack: vec![frame_for(schema)], complete: false }
    }

    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Would `bytes` keep the output valid?
    pub fn accepts(&self, bytes: &[u8]) -> bool {
        !bytes.is_empty() && self.clone().advance(bytes)
    }

    /// The bytes that must come next whatever the model prefers (the rest of a key once it is
    /// told apart, the `":"` after it, the rest of an enum value...): as long as exactly one
    /// byte keeps the output valid, that byte. Empty when there is a choice, or when complete.
    pub fn forced(&self) -> Vec<u8> {
        let mut g = self.clone();
        let mut out = Vec::new();
        loop {
            let mut only = None;
            for b in 0..=255u8 {
                if g.accepts(&[b]) {
                    if only.is_some() {
                        return out;
                    }
                    only = Some(b);
                }
            }
            let Some(b) = only else { return out };
            g.push(b);
            out.push(b);
        }
    }

    /// Consumes `bytes`; false (and a state to discard) when they break the grammar.
    pub fn advance(&mut self, bytes: &[u8]) -> bool {
        bytes.iter().all(|&b| self.push(b))
    }

    fn push(&mut self, b: u8) -> bool {
        loop {
            if self.complete {
                return false;
            }
            let Some(top) = self.stack.last_mut() else { return false };
            let child = match step(top, b) {
                Err(()) => return false,
                Ok((step, child)) => (step, child),
            };
            match child {
                (Step::Consumed, Some(schema)) => {
                    self.stack.push(frame_for(schema));
                    return true;
                }
                (Step::Consumed, None) => return true,
                (Step::Finished, _) => {
                    self.pop();
                    return true;
                }
                (Step::EndedBefore, _) => self.pop(),
            }
        }
    }

    fn pop(&mut self) {
        self.stack.pop();
        if self.stack.is_empty() {
            self.complete = true;
        }
    }
}

type StepResult<'a> = Result<(Step, Option<&'a Schema>), ()>;

fn step<'a>(frame: &mut Frame<'a>, b: u8) -> StepResult<'a> {
    match frame {
        Frame::Obj { props, required, next, stage } => step_obj(props, required, next, stage, b),
        Frame::Enum { values, matched } => step_enum(values, matched, b).map(|s| (s, None)),
        Frame::Str { .. } => step_str(frame, b).map(|s| (s, None)),
        Frame::Int { .. } => step_int(frame, b).map(|s| (s, None)),
        Frame::Bool { matched } => {
            matched.push(b);
            let ok = |w: &[u8]| w.starts_with(matched);
            match (ok(b"true") || ok(b"false"), matched.as_slice() == b"true" || matched.as_slice() == b"false") {
                (_, true) => Ok((Step::Finished, None)),
                (true, false) => Ok((Step::Consumed, None)),
                (false, _) => Err(()),
            }
        }
    }
}

/// Properties that may come next: from `next` up to and including the first required one.
fn allowed_keys(required: &[bool], next: usize) -> std::ops::Range<usize> {
    let end = (next..required.len()).find(|&i| required[i]).map_or(required.len(), |i| i + 1);
    next..end
}

fn step_obj<'a>(
    props: &'a [(String, Schema)],
    required: &[bool],
    next: &mut usize,
    stage: &mut ObjStage,
    b: u8,
) -> StepResult<'a> {
    let may_close = !required[*next..].contains(&true);
    match stage {
        ObjStage::Open if b == b'{' => *stage = ObjStage::KeyStart { first: true },
        ObjStage::KeyStart { first } if b == b'}' && *first && may_close => return Ok((Step::Finished, None)),
        ObjStage::KeyStart { .. } if b == b'"' && *next < props.len() => *stage = ObjStage::Key(Vec::new()),
        ObjStage::Key(key) => {
            let range = allowed_keys(required, *next);
            if b == b'"' {
                let idx = range.clone().find(|&i| props[i].0.as_bytes() == key.as_slice()).ok_or(())?;
                *stage = ObjStage::Colon(idx);
            } else {
                key.push(b);
                if !range.clone().any(|i| props[i].0.as_bytes().starts_with(key)) {
                    return Err(());
                }
            }
        }
        ObjStage::Colon(idx) if b == b':' => {
            let idx = *idx;
            *next = idx + 1;
            *stage = ObjStage::AfterValue;
            return Ok((Step::Consumed, Some(&props[idx].1)));
        }
        ObjStage::AfterValue if b == b',' && *next < props.len() => *stage = ObjStage::KeyStart { first: false },
        ObjStage::AfterValue if b == b'}' && may_close => return Ok((Step::Finished, None)),
        _ => return Err(()),
    }
    Ok((Step::Consumed, None))
}

fn step_enum(values: &[String], matched: &mut Option<Vec<u8>>, b: u8) -> Result<Step, ()> {
    let Some(m) = matched else {
        return if b == b'"' {
            *matched = Some(Vec::new());
            Ok(Step::Consumed)
        } else {
            Err(())
        };
    };
    m.push(b);
    if values.iter().any(|v| v.as_bytes().starts_with(m)) {
        return Ok(Step::Consumed);
    }
    m.pop();
    if b == b'"' && values.iter().any(|v| v.as_bytes() == m.as_slice()) {
        return Ok(Step::Finished);
    }
    Err(())
}

fn date_byte_ok(text: &[u8], b: u8) -> bool {
    let digit = b.is_ascii_digit();
    match text.len() {
        0..=3 => digit,
        4 | 7 => b == b'-',
        5 => b == b'0' || b == b'1',
        6 if text[5] == b'0' => (b'1'..=b'9').contains(&b),
        6 => (b'0'..=b'2').contains(&b),
        // The day must exist in that month of that year, or the string could never close.
        8 => digit && (b - b'0') * 10 <= month_days(text),
        9 => digit && (1..=month_days(text)).contains(&((text[8] - b'0') * 10 + (b - b'0'))),
        _ => false,
    }
}

/// Days in the month of a partial date `YYYY-MM-` (as `schema::is_date` counts them).
fn month_days(text: &[u8]) -> u8 {
    let num = |r: std::ops::Range<usize>| text[r].iter().fold(0u32, |n, d| n * 10 + (d - b'0') as u32);
    let (y, m) = (num(0..4), num(5..7));
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 31,
    }
}

fn step_str(frame: &mut Frame<'_>, b: u8) -> Result<Step, ()> {
    let Frame::Str { max_len, date, stage, chars, utf8_left, next_utf8, text } = frame else { return Err(()) };
    match stage {
        StrStage::Open if b == b'"' => *stage = StrStage::Body,
        StrStage::Open => return Err(()),
        StrStage::Body if *utf8_left > 0 => {
            if !(next_utf8.0..=next_utf8.1).contains(&b) {
                return Err(());
            }
            *next_utf8 = (0x80, 0xBF);
            *utf8_left -= 1;
        }
        StrStage::Body if b == b'"' => {
            let ok = !*date || crate::schema::is_date(std::str::from_utf8(text).unwrap_or(""));
            return if ok { Ok(Step::Finished) } else { Err(()) };
        }
        StrStage::Body => {
            if *chars >= *max_len || b < 0x20 || (*date && !date_byte_ok(text, b)) {
                return Err(());
            }
            *chars += 1;
            match b {
                b'\\' => *stage = StrStage::Escape,
                0x80..=0xBF | 0xF8..=0xFF => return Err(()),
                0xC0 | 0xC1 | 0xF5..=0xF7 => return Err(()),
                0xC2..=0xDF => *utf8_left = 1,
                0xE0..=0xEF => {
                    *utf8_left = 2;
                    *next_utf8 = match b {
                        0xE0 => (0xA0, 0xBF),
                        0xED => (0x80, 0x9F),
                        _ => (0x80, 0xBF),
                    };
                }
                0xF0..=0xF4 => {
                    *utf8_left = 3;
                    *next_utf8 = match b {
                        0xF0 => (0x90, 0xBF),
                        0xF4 => (0x80, 0x8F),
                        _ => (0x80, 0xBF),
                    };
                }
                _ => {}
            }
            if *date {
                text.push(b);
            }
        }
        StrStage::Escape => match b {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => *stage = StrStage::Body,
            b'u' => *stage = StrStage::Unicode(0, false),
            _ => return Err(()),
        },
        StrStage::Unicode(n, first_d) => {
            let surrogate = *n == 1 && *first_d && !matches!(b, b'0'..=b'7');
            if !b.is_ascii_hexdigit() || surrogate {
                return Err(());
            }
            let d = *n == 0 && b.eq_ignore_ascii_case(&b'd');
            *stage = if *n == 3 { StrStage::Body } else { StrStage::Unicode(*n + 1, d || *first_d) };
        }
    }
    Ok(Step::Consumed)
}

/// Can a number starting with `value` (`digits` digits, sign `neg`) still land in range?
fn int_reachable(min: i64, max: i64, neg: bool, digits: u32, value: i128) -> bool {
    let (min, max) = (min as i128, max as i128);
    let extra_max = if value == 0 { 0 } else { 18u32.saturating_sub(digits) };
    (0..=extra_max).any(|e| {
        let scale = 10i128.pow(e);
        let (lo, hi) = (value * scale, value * scale + scale - 1);
        let (lo, hi) = if e == 0 { (value, value) } else { (lo, hi) };
        let (lo, hi) = if neg { (-hi, -lo) } else { (lo, hi) };
        lo <= max && hi >= min
    })
}

fn step_int(frame: &mut Frame<'_>, b: u8) -> Result<Step, ()> {
    let Frame::Int { min, max, neg, digits, value, started } = frame else { return Err(()) };
    if b == b'-' && !*started && *min < 0 {
        *started = true;
        *neg = true;
        return Ok(Step::Consumed);
    }
    if b.is_ascii_digit() {
        if *digits >= 1 && *value == 0 {
            return Err(()); // no leading zeros
        }
        let v = *value * 10 + i128::from(b - b'0');
        if !int_reachable(*min, *max, *neg, *digits + 1, v) {
            return Err(());
        }
        *started = true;
        *digits += 1;
        *value = v;
        return Ok(Step::Consumed);
    }
    let v = if *neg { -*value } else { *value };
    if *digits > 0 && (i128::from(*min)..=i128::from(*max)).contains(&v) {
        Ok(Step::EndedBefore)
    } else {
        Err(())
    }
}

#[cfg(test)]
#[path = "grammar_tests.rs"]
mod tests;
