//! Encrypting a whole file (a database backup) under the same key scheme as everything else: a
//! fresh random 256-bit data key per file, stored in the file's header wrapped by the current
//! key-encryption key (sealed format 3, so any KEK version still in the key file opens it),
//! and the content cut into chunks, each sealed with AES-256-GCM under that data key.
//!
//! Each chunk's associated data binds a hash of the header, the chunk's index and whether it
//! is the last one (the STREAM construction), so reordering, dropping, truncating after any
//! chunk, or appending anything is detected, and the header cannot be swapped for another's.
//! Nonces are the chunk index: the key is never used for another file.

use std::io::{Read, Write};

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, Key, KeyInit, Nonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{Aad, Cipher, NONCE_LEN};

/// First bytes of every encrypted file.
const MAGIC: &[u8; 8] = b"AGENTBK1";
/// Plaintext bytes per chunk.
const CHUNK: usize = 1 << 20;
const TAG_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("not an agent backup file (bad magic)")]
    NotABackup,
    #[error("backup header is malformed or its key does not open with the key file")]
    Header,
    #[error("backup is damaged or tampered with: chunk {0} does not open")]
    Chunk(u64),
    #[error("backup is truncated: it ends after chunk {0} without its final chunk")]
    Truncated(u64),
    #[error("backup has extra bytes after its final chunk")]
    Trailing,
    #[error("encryption failed")]
    Seal,
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// What the header says besides the wrapped key (clear text, bound into every chunk).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Header {
    /// Random id; also the row of the wrapped key's associated data.
    pub id: String,
    pub created_at: i64,
    /// What the content is ("sqlite").
    pub content: String,
    /// The data key, sealed under the KEK (hex).
    pub wrapped_key: String,
}

fn key_aad(id: &str) -> Aad<'_> {
    Aad { table: "backup", row: id, patient: "" }
}

fn chunk_aad(header_hash: &[u8; 32], index: u64, last: bool) -> Vec<u8> {
    let mut aad = header_hash.to_vec();
    aad.extend_from_slice(&index.to_be_bytes());
    aad.push(u8::from(last));
    aad
}

fn nonce(index: u64) -> [u8; NONCE_LEN] {
    let mut n = [0u8; NONCE_LEN];
    n[4..].copy_from_slice(&index.to_be_bytes());
    n
}

/// Reads until `buf` is full or the input ends; how many bytes were read.
fn fill(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Encrypts everything `input` yields into `out`; returns the header written.
pub fn encrypt(cipher: &Cipher, content: &str, now: i64, input: &mut impl Read, out: &mut impl Write) -> Result<Header, StreamError> {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    let id = uuid::Uuid::new_v4().to_string();
    let wrapped = cipher.seal(&key_aad(&id), &raw).map_err(|_| StreamError::Seal)?;
    let header = Header { id, created_at: now, content: content.into(), wrapped_key: hex::encode(wrapped) };
    let header_bytes = serde_json::to_vec(&header).map_err(|_| StreamError::Seal)?;
    out.write_all(MAGIC)?;
    out.write_all(&(header_bytes.len() as u32).to_be_bytes())?;
    out.write_all(&header_bytes)?;
    let hash: [u8; 32] = Sha256::digest(&header_bytes).into();
    let aead = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&raw));
    // Read one chunk ahead so the last one is known when it is sealed.
    let mut current = vec![0u8; CHUNK];
    let mut len = fill(input, &mut current)?;
    let mut next = vec![0u8; CHUNK];
    let mut index = 0u64;
    loop {
        let next_len = if len == CHUNK { fill(input, &mut next)? } else { 0 };
        let last = next_len == 0;
        let aad = chunk_aad(&hash, index, last);
        let ct = aead
            .encrypt(Nonce::from_slice(&nonce(index)), Payload { msg: &current[..len], aad: &aad })
            .map_err(|_| StreamError::Seal)?;
        out.write_all(&(ct.len() as u32).to_be_bytes())?;
        out.write_all(&ct)?;
        if last {
            return Ok(header);
        }
        std::mem::swap(&mut current, &mut next);
        len = next_len;
        index += 1;
    }
}

/// Decrypts a file written by `encrypt` into `out`, checking every chunk, the order, the end;
/// returns the header and the number of plaintext bytes.
pub fn decrypt(cipher: &Cipher, input: &mut impl Read, out: &mut impl Write) -> Result<(Header, u64), StreamError> {
    let mut magic = [0u8; 8];
    if fill(input, &mut magic)? != 8 || &magic != MAGIC {
        return Err(StreamError::NotABackup);
    }
    let mut len4 = [0u8; 4];
    if fill(input, &mut len4)? != 4 {
        return Err(StreamError::Header);
    }
    let header_len = u32::from_be_bytes(len4) as usize;
    if header_len > 64 * 1024 {
        return Err(StreamError::Header);
    }
    let mut header_bytes = vec![0u8; header_len];
    if fill(input, &mut header_bytes)? != header_len {
        return Err(StreamError::Header);
    }
    let header: Header = serde_json::from_slice(&header_bytes).map_err(|_| StreamError::Header)?;
    let wrapped = hex::decode(&header.wrapped_key).map_err(|_| StreamError::Header)?;
    let raw = cipher.open(&key_aad(&header.id), &wrapped).map_err(|_| StreamError::Header)?;
    if raw.len() != 32 {
        return Err(StreamError::Header);
    }
    let aead = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&raw));
    let hash: [u8; 32] = Sha256::digest(&header_bytes).into();
    let mut total = 0u64;
    let mut buf = vec![0u8; CHUNK + TAG_LEN];
    for index in 0u64.. {
        let got = fill(input, &mut len4)?;
        if got == 0 && index > 0 {
            return Err(StreamError::Truncated(index - 1));
        }
        if got != 4 {
            return Err(StreamError::Truncated(index.saturating_sub(1)));
        }
        let n = u32::from_be_bytes(len4) as usize;
        if !(TAG_LEN..=CHUNK + TAG_LEN).contains(&n) {
            return Err(StreamError::Chunk(index));
        }
        if fill(input, &mut buf[..n])? != n {
            return Err(StreamError::Truncated(index.saturating_sub(1)));
        }
        let nonce = nonce(index);
        let open = |last| aead.decrypt(Nonce::from_slice(&nonce), Payload { msg: &buf[..n], aad: &chunk_aad(&hash, index, last) });
        let (plain, last) = match open(false) {
            Ok(p) => (p, false),
            Err(_) => (open(true).map_err(|_| StreamError::Chunk(index))?, true),
        };
        out.write_all(&plain)?;
        total += plain.len() as u64;
        if last {
            let mut extra = [0u8; 1];
            if fill(input, &mut extra)? != 0 {
                return Err(StreamError::Trailing);
            }
            return Ok((header, total));
        }
    }
    unreachable!("the loop returns")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(cipher: &Cipher, data: &[u8]) -> Vec<u8> {
        let mut enc = Vec::new();
        encrypt(cipher, "sqlite", 1, &mut &data[..], &mut enc).unwrap();
        enc
    }

    #[test]
    fn a_file_of_several_chunks_round_trips_and_any_damage_is_named() {
        let cipher = Cipher::from_key([7; 32]);
        let data: Vec<u8> = (0..(2 * CHUNK + 123)).map(|i| (i % 251) as u8).collect();
        let enc = roundtrip(&cipher, &data);
        let mut out = Vec::new();
        let (header, n) = decrypt(&cipher, &mut &enc[..], &mut out).unwrap();
        assert_eq!((n as usize, out == data, header.content.as_str()), (data.len(), true, "sqlite"));

        let mut flipped = enc.clone();
        let at = flipped.len() - CHUNK / 2;
        flipped[at] ^= 1;
        let e = decrypt(&cipher, &mut &flipped[..], &mut Vec::new()).unwrap_err();
        assert!(matches!(e, StreamError::Chunk(1)), "{e}");

        // Cut exactly at a chunk boundary: every remaining chunk opens, but none says "last".
        let boundary = enc.len() - (4 + 123 + TAG_LEN);
        let e = decrypt(&cipher, &mut &enc[..boundary], &mut Vec::new()).unwrap_err();
        assert!(matches!(e, StreamError::Truncated(1)), "{e}");
        let e = decrypt(&cipher, &mut &enc[..enc.len() - 1], &mut Vec::new()).unwrap_err();
        assert!(matches!(e, StreamError::Truncated(_)), "{e}");

        let mut longer = enc.clone();
        longer.push(0);
        assert!(matches!(decrypt(&cipher, &mut &longer[..], &mut Vec::new()), Err(StreamError::Trailing)));
        let other = Cipher::from_key([8; 32]);
        assert!(matches!(decrypt(&other, &mut &enc[..], &mut Vec::new()), Err(StreamError::Header)));
        assert!(matches!(decrypt(&cipher, &mut &b"SQLite format 3\0"[..], &mut Vec::new()), Err(StreamError::NotABackup)));
    }

    #[test]
    fn an_empty_file_and_an_exact_chunk_round_trip() {
        let cipher = Cipher::from_key([7; 32]);
        for data in [vec![], vec![5u8; CHUNK]] {
            let enc = roundtrip(&cipher, &data);
            let mut out = Vec::new();
            decrypt(&cipher, &mut &enc[..], &mut out).unwrap();
            assert_eq!(out, data);
        }
    }

    #[test]
    fn a_header_from_another_backup_does_not_fit_the_chunks() {
        let cipher = Cipher::from_key([7; 32]);
        let a = roundtrip(&cipher, b"first backup");
        let b = roundtrip(&cipher, b"second one!!");
        let header_end = |e: &[u8]| 12 + u32::from_be_bytes(e[8..12].try_into().unwrap()) as usize;
        let mut mixed = a[..header_end(&a)].to_vec();
        mixed.extend_from_slice(&b[header_end(&b)..]);
        assert!(decrypt(&cipher, &mut &mixed[..], &mut Vec::new()).is_err());
    }
}
