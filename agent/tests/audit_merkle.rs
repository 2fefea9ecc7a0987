//! The audit Merkle tree against RFC 6962 / RFC 9162: the published tree heads and proofs of
//! the Certificate Transparency reference data, every inclusion proof and every consistency
//! proof of every tree up to 64 leaves, and tampered proofs refused.

use agent::audit::merkle::*;

/// The reference leaves of the CT test data, and the heads of their trees of 1..=8 leaves.
const LEAVES: [&str; 8] = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"];
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn h(s: &str) -> Hash {
    hex::decode(s).unwrap().try_into().unwrap()
}

fn reference_leaves() -> Vec<Hash> {
    LEAVES.iter().map(|l| leaf_hash(&hex::decode(l).unwrap())).collect()
}

fn leaves(n: usize) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&(i as u64).to_be_bytes())).collect()
}

#[test]
fn tree_heads_match_the_rfc_6962_reference() {
    assert_eq!(hex::encode(root(&[])), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    let l = reference_leaves();
    let mut acc = Accumulator::default();
    for n in 1..=8 {
        assert_eq!(hex::encode(root(&l[..n])), ROOTS[n - 1], "size {n}");
        acc.push(l[n - 1]);
        assert_eq!(acc.root(), root(&l[..n]), "incremental head at size {n}");
    }
}

#[test]
fn proofs_match_the_published_reference_proofs() {
    let l = reference_leaves();
    // (leaf index, tree size, audit path) from the CT reference data.
    let inclusion: [(usize, usize, &[&str]); 4] = [
        (0, 8, &["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
        (5, 8, &["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
        (2, 3, &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
        (1, 5, &["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    ];
    for (index, size, path) in inclusion {
        let want: Vec<Hash> = path.iter().map(|p| h(p)).collect();
        assert_eq!(inclusion_proof(index, &l[..size]).unwrap(), want, "inclusion {index} in {size}");
        assert!(verify_inclusion(index as u64, size as u64, &l[index], &want, &h(ROOTS[size - 1])));
    }
    // (first size, second size, proof).
    let consistency: [(usize, usize, &[&str]); 3] = [
        (1, 8, &["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
        (6, 8, &["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
        (2, 5, &["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    ];
    for (m, n, path) in consistency {
        let want: Vec<Hash> = path.iter().map(|p| h(p)).collect();
        assert_eq!(consistency_proof(m, &l[..n]).unwrap(), want, "consistency {m}→{n}");
        assert!(verify_consistency(m as u64, n as u64, &h(ROOTS[m - 1]), &h(ROOTS[n - 1]), &want));
    }
}

/// Every way the CT reference verifier corrupts an inclusion proof.
fn corrupted(proof: &[Hash]) -> Vec<Vec<Hash>> {
    let mut out = vec![];
    for i in 0..proof.len() {
        let mut p = proof.to_vec();
        p[i][0] ^= 8;
        out.push(p);
    }
    if !proof.is_empty() {
        out.push(proof[..proof.len() - 1].to_vec());
        let mut p = proof.to_vec();
        p.insert(1.min(p.len()), [7; 32]);
        out.push(p);
    }
    let mut p = proof.to_vec();
    p.push([0; 32]);
    out.push(p);
    let mut p = proof.to_vec();
    p.insert(0, [0; 32]);
    out.push(p);
    out
}

#[test]
fn every_inclusion_proof_of_every_tree_up_to_64_verifies_and_tampered_ones_fail() {
    let all = leaves(64);
    for n in 1..=64usize {
        let l = &all[..n];
        let head = root(l);
        for i in 0..n {
            let proof = inclusion_proof(i, l).unwrap();
            let (iu, nu) = (i as u64, n as u64);
            assert!(verify_inclusion(iu, nu, &l[i], &proof, &head), "leaf {i} of {n}");
            for bad in corrupted(&proof) {
                assert!(!verify_inclusion(iu, nu, &l[i], &bad, &head), "tampered proof, leaf {i} of {n}");
            }
            assert!(!verify_inclusion(iu, nu, &leaf_hash(b"other"), &proof, &head), "wrong leaf {i} of {n}");
            assert!(!verify_inclusion(iu, nu, &l[i], &proof, &empty_root()), "wrong head {i} of {n}");
            assert!(!verify_inclusion(iu + 1, nu, &l[i], &proof, &head), "index + 1, leaf {i} of {n}");
            if i > 0 {
                assert!(!verify_inclusion(iu - 1, nu, &l[i], &proof, &head), "index - 1, leaf {i} of {n}");
            }
            assert!(!verify_inclusion(iu, nu * 2, &l[i], &proof, &head), "size * 2, leaf {i} of {n}");
        }
        assert!(inclusion_proof(n, l).is_none());
        assert!(!verify_inclusion(n as u64, n as u64, &l[0], &[], &head));
    }
}

#[test]
fn every_consistency_proof_up_to_64_verifies_and_tampered_ones_fail() {
    let all = leaves(64);
    let heads: Vec<Hash> = (0..=64).map(|n| root(&all[..n])).collect();
    for n in 0..=64usize {
        for m in 0..=n {
            let proof = consistency_proof(m, &all[..n]).unwrap();
            let (mu, nu) = (m as u64, n as u64);
            assert!(verify_consistency(mu, nu, &heads[m], &heads[n], &proof), "{m} → {n}");
            if m == 0 || m == n {
                assert!(proof.is_empty());
                continue;
            }
            for bad in corrupted(&proof) {
                assert!(!verify_consistency(mu, nu, &heads[m], &heads[n], &bad), "tampered {m} → {n}");
            }
            assert!(!verify_consistency(mu, nu, &heads[m], &heads[n], &[]), "empty proof {m} → {n}");
            assert!(!verify_consistency(mu, nu, &heads[n], &heads[m], &proof), "swapped heads {m} → {n}");
            assert!(!verify_consistency(mu, nu, &heads[m - 1], &heads[n], &proof), "wrong first head {m} → {n}");
            assert!(!verify_consistency(mu, nu, &heads[m], &heads[n - 1], &proof), "wrong second head {m} → {n}");
            assert!(!verify_consistency(mu - 1, nu, &heads[m], &heads[n], &proof), "first - 1, {m} → {n}");
            assert!(!verify_consistency(mu, nu * 2, &heads[m], &heads[n], &proof), "second * 2, {m} → {n}");
            assert!(!verify_consistency(nu, mu, &heads[n], &heads[m], &proof), "backwards {m} → {n}");
        }
        assert!(consistency_proof(n + 1, &all[..n]).is_none());
    }
}

#[test]
fn a_rewritten_history_has_no_consistency_proof() {
    let old = leaves(20);
    let mut new = leaves(30);
    new[7] = leaf_hash(b"rewritten");
    let proof = consistency_proof(20, &new).unwrap();
    assert!(!verify_consistency(20, 30, &root(&old), &root(&new), &proof));
}
