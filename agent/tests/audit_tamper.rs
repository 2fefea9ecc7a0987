//! Tamper trials: take a clean, checkpointed audit log, flip a byte, delete, reorder, truncate
//! or quietly rewrite records at random, and check that `verify` catches every one and names
//! the first bad record. 10,000 trials on rows in memory, and more through a real SQLite file
//! with the SQL an attacker with database access would run.

use agent::audit::checkpoint::{AuditSigner, Checkpoint};
use agent::audit::merkle::{self, Accumulator};
use agent::audit::record::leaf_of;
use agent::audit::verify::verify;
use agent::store::{audit_hash, AuditEntry, AuditRow, AUDIT_GENESIS};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const TRIALS: usize = 10_000;

fn append(rows: &mut Vec<AuditRow>, entry: AuditEntry) {
    let prev = rows.last().map(|r| r.hash.clone()).unwrap_or_else(|| AUDIT_GENESIS.to_owned());
    let seq = rows.len() as i64 + 1;
    let hash = audit_hash(&prev, seq, &entry);
    rows.push(AuditRow { seq, at: entry.at, actor: entry.actor, action: entry.action, payload: entry.payload, prev_hash: prev, hash });
}

fn random_entry(rng: &mut StdRng, i: usize) -> AuditEntry {
    let len = rng.random_range(0..48);
    AuditEntry {
        at: 1_700_000_000_000 + i as i64 * 1000,
        actor: ["patient", "agent", "staff"][rng.random_range(0..3)].into(),
        action: format!("chat.turn/c{}", rng.random_range(0..5)),
        payload: (0..len).map(|_| rng.random()).collect(),
    }
}

/// A clean log of `n` records with checkpoints every `every` records and at the tip.
fn log(rng: &mut StdRng, signer: &AuditSigner, n: usize, every: usize) -> (Vec<AuditRow>, Vec<Checkpoint>) {
    let mut rows = Vec::new();
    let mut cps = Vec::new();
    let mut acc = Accumulator::default();
    for i in 0..n {
        append(&mut rows, random_entry(rng, i));
        acc.push(leaf_of(&rows[i].hash).unwrap());
        if (i + 1) % every == 0 || i + 1 == n {
            cps.push(signer.sign(acc.size(), &acc.root(), 0));
        }
    }
    (rows, cps)
}

fn flip_string(s: &mut String, rng: &mut StdRng) {
    let mut bytes = std::mem::take(s).into_bytes();
    let i = rng.random_range(0..bytes.len());
    bytes[i] ^= 1; // stays ASCII
    *s = String::from_utf8(bytes).unwrap();
}

/// Applies one random tampering; returns its name and the first record it made bad (for a
/// rewrite, the record rewritten: verify may only locate it to the signed range).
fn tamper(rows: &mut Vec<AuditRow>, rng: &mut StdRng) -> (&'static str, i64) {
    let n = rows.len();
    let k = rng.random_range(0..n);
    let kind = rng.random_range(0..5);
    // One record cannot be reordered: cut it off instead.
    let kind = if kind == 2 && n < 2 { 3 } else { kind };
    match kind {
        0 => {
            let r = &mut rows[k];
            match rng.random_range(0..7) {
                0 if !r.payload.is_empty() => {
                    let i = rng.random_range(0..r.payload.len());
                    r.payload[i] ^= rng.random_range(1..=255u8);
                }
                1 => r.at ^= 1 << rng.random_range(0..40),
                2 => flip_string(&mut r.actor, rng),
                3 => flip_string(&mut r.action, rng),
                4 => flip_string(&mut r.prev_hash, rng),
                5 => flip_string(&mut r.hash, rng),
                _ => r.payload.push(rng.random()),
            }
            ("flip", k as i64 + 1)
        }
        1 => {
            rows.remove(k);
            ("delete", k as i64 + 1)
        }
        2 => {
            let j = loop {
                let j = rng.random_range(0..n);
                if j != k {
                    break j;
                }
            };
            rows.swap(k, j);
            if rng.random_bool(0.5) {
                // Renumbered to match their new places, as an UPDATE of the seq column would.
                rows[k].seq = k as i64 + 1;
                rows[j].seq = j as i64 + 1;
            }
            ("reorder", k.min(j) as i64 + 1)
        }
        3 => {
            let keep = rng.random_range(0..n);
            rows.truncate(keep);
            ("truncate", keep as i64 + 1)
        }
        _ => {
            // A careful attacker: change a record and recompute every hash after it.
            rows[k].actor.push('x');
            let mut prev = if k == 0 { AUDIT_GENESIS.to_owned() } else { rows[k - 1].hash.clone() };
            for r in rows[k..].iter_mut() {
                r.prev_hash = prev.clone();
                let e = AuditEntry { at: r.at, actor: r.actor.clone(), action: r.action.clone(), payload: r.payload.clone() };
                r.hash = audit_hash(&prev, r.seq, &e);
                prev = r.hash.clone();
            }
            ("rewrite", k as i64 + 1)
        }
    }
}

#[test]
fn ten_thousand_random_tamperings_are_all_detected() {
    let started = std::time::Instant::now();
    let mut rng = StdRng::seed_from_u64(0x0a0d17);
    let signer = AuditSigner::from_seed([5; 32]);
    let keys = [signer.verifying_key()];
    let logs: Vec<_> = (0..16)
        .map(|_| {
            let n = rng.random_range(1..=64);
            let every = rng.random_range(4..=24);
            log(&mut rng, &signer, n, every)
        })
        .collect();
    for (rows, cps) in &logs {
        let v = verify(rows, cps, &keys).expect("the clean log verifies");
        assert_eq!(v.records as usize, rows.len());
        assert_eq!(v.signed_size as usize, rows.len());
    }
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for trial in 0..TRIALS {
        let (clean, cps) = &logs[trial % logs.len()];
        let mut rows = clean.clone();
        let (kind, first_bad) = tamper(&mut rows, &mut rng);
        *counts.entry(kind).or_default() += 1;
        let failure = verify(&rows, cps, &keys).expect_err(&format!("trial {trial}: {kind} at {first_bad} went unnoticed"));
        let named = failure.seq.unwrap_or_else(|| panic!("trial {trial}: {kind}: no record named: {failure}"));
        if kind == "rewrite" {
            // Located to the first record after the last checkpoint that still matches.
            assert!(named <= first_bad, "trial {trial}: rewrite of {first_bad} reported at {named}: {failure}");
        } else {
            assert_eq!(named, first_bad, "trial {trial}: {kind}: {failure}");
        }
    }
    eprintln!("{TRIALS} tamper trials, all detected, in {:?}: {counts:?}", started.elapsed());
    assert!(counts.values().all(|&c| c > TRIALS / 10), "every kind tried: {counts:?}");
}

#[test]
fn a_forged_or_foreign_checkpoint_is_refused() {
    let mut rng = StdRng::seed_from_u64(7);
    let signer = AuditSigner::from_seed([5; 32]);
    let (rows, mut cps) = log(&mut rng, &signer, 10, 4);
    let keys = [signer.verifying_key()];
    let mut forged = cps.clone();
    forged[0].root = hex::encode(merkle::empty_root());
    assert!(verify(&rows, &forged, &keys).unwrap_err().message.contains("signature"));
    let mallory = AuditSigner::from_seed([6; 32]);
    let mut leaves: Vec<_> = rows.iter().map(|r| leaf_of(&r.hash).unwrap()).collect();
    leaves.truncate(8);
    cps.push(mallory.sign(8, &merkle::root(&leaves), 0));
    assert!(verify(&rows, &cps, &keys).unwrap_err().message.contains("unknown key"));
}
