//! Per-patient data keys. Each patient's values are sealed under a random 256-bit data key of
//! their own, stored wrapped (AES-256-GCM) by the current KEK version. Every data key counts
//! its uses in the database (reserved in small blocks, so the count survives restarts and is
//! shared by replicas); past `max_uses` a new key version is made, keeping every random-nonce
//! key far below the 2^32 messages AES-GCM allows. Shredding deletes a patient's data keys.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aes_gcm::{Aes256Gcm, Key, KeyInit};
use rand::RngCore;

use super::{open_with, seal_with, versioned_parts, Aad, CryptoError, KekRing, FORMAT_DATA_KEY};
use crate::store::{DataKeyRow, KeyStore};

/// How keys are used and cached.
#[derive(Clone, Debug)]
pub struct KeyPolicy {
    /// Seals per data key before a new version is made.
    pub max_uses: u64,
    /// How long an unwrapped data key is kept in memory (a shred elsewhere takes effect
    /// within this time).
    pub cache: Duration,
}

impl Default for KeyPolicy {
    fn default() -> Self {
        Self { max_uses: 1 << 30, cache: Duration::from_secs(60) }
    }
}

#[derive(Default)]
struct Cached {
    /// Unwrapped keys by (patient, version), with when they were unwrapped.
    keys: HashMap<(String, u32), (Aes256Gcm, Instant)>,
    /// Uses reserved in the database and not yet spent: patient → (version, left).
    reserved: HashMap<String, (u32, u64)>,
}

/// Told of each block of uses reserved: (uses before, uses after, the limit).
pub type UsageHook = Arc<dyn Fn(u64, u64, u64) + Send + Sync>;

pub struct Envelope {
    store: Arc<dyn KeyStore>,
    keks: Arc<KekRing>,
    policy: KeyPolicy,
    cached: Mutex<Cached>,
    /// The key-use alert (set once the service's metrics exist).
    usage: Mutex<Option<UsageHook>>,
}

/// What the KEK's associated data binds when wrapping a data key.
fn wrap_aad(patient: &str, version: u32, kek_version: u32) -> Vec<u8> {
    let row = version.to_string();
    Aad { table: "data_keys", row: &row, patient }.versioned(FORMAT_DATA_KEY, kek_version)
}

impl Envelope {
    pub fn new(store: Arc<dyn KeyStore>, keks: Arc<KekRing>, policy: KeyPolicy) -> Self {
        Self { store, keks, policy, cached: Mutex::new(Cached::default()), usage: Mutex::new(None) }
    }

    /// Calls `hook` with each block of uses reserved (the key-use alert watches it).
    pub fn on_usage(&self, hook: UsageHook) {
        *self.usage.lock().unwrap_or_else(|e| e.into_inner()) = Some(hook);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cached> {
        self.cached.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub async fn seal(&self, aad: &Aad<'_>, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let version = self.reserve_use(aad.patient).await?;
        let key = self.data_key(aad.patient, version).await?;
        seal_with(&key, FORMAT_DATA_KEY, version, &aad.versioned(FORMAT_DATA_KEY, version), plaintext)
    }

    pub async fn open(&self, aad: &Aad<'_>, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (version, rest) = versioned_parts(sealed)?;
        let key = self.data_key(aad.patient, version).await?;
        open_with(&key, &aad.versioned(FORMAT_DATA_KEY, version), rest)
    }

    /// One use of the patient's current data key; reserves a block in the database when the
    /// last one is spent, and moves to a new key version once the limit is reached.
    async fn reserve_use(&self, patient: &str) -> Result<u32, CryptoError> {
        if let Some((version, left)) = self.lock().reserved.get_mut(patient) {
            if *left > 0 {
                *left -= 1;
                return Ok(*version);
            }
        }
        let max = self.policy.max_uses.max(1);
        let block = (max / 64).clamp(1, 1024);
        let mut row = match self.store.current_data_key(patient).await? {
            Some(row) => row,
            None => self.create(patient, 1).await?,
        };
        loop {
            if row.uses as u64 >= max {
                row = self.create(patient, row.version + 1).await?;
                continue;
            }
            let used = self.store.reserve_key_uses(patient, row.version, block as i64).await? as u64;
            let start = used - block;
            let hook = self.usage.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if let Some(hook) = hook {
                hook(start, used.min(max), max);
            }
            if start < max {
                let usable = used.min(max) - start;
                self.lock().reserved.insert(patient.to_owned(), (row.version, usable - 1));
                return Ok(row.version);
            }
            row = self.create(patient, row.version + 1).await?;
        }
    }

    /// Makes data key `version` for the patient (or takes the one another replica just made).
    async fn create(&self, patient: &str, version: u32) -> Result<DataKeyRow, CryptoError> {
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        // New keys are rare: re-read the file so a rotation elsewhere is never missed (a key
        // wrapped by a version about to be retired would be lost with it).
        if let Err(e) = self.keks.reload() {
            tracing::warn!(error = %e, "re-reading the key file failed; using the keys in memory");
        }
        let (kek_version, kek) = self.keks.current();
        let wrapped = seal_with(&kek, FORMAT_DATA_KEY, kek_version, &wrap_aad(patient, version, kek_version), &raw)?;
        let row = DataKeyRow { patient_id: patient.to_owned(), version, kek_version, wrapped: wrapped[5..].to_vec(), uses: 0 };
        if self.store.insert_data_key(&row, chrono::Utc::now().timestamp_millis()).await? {
            return Ok(row);
        }
        self.store.data_key(patient, version).await?.ok_or(CryptoError::Seal)
    }

    /// The unwrapped data key, from memory or the database; `Open` when it was destroyed.
    async fn data_key(&self, patient: &str, version: u32) -> Result<Aes256Gcm, CryptoError> {
        let id = (patient.to_owned(), version);
        if let Some((key, at)) = self.lock().keys.get(&id) {
            if at.elapsed() < self.policy.cache {
                return Ok(key.clone());
            }
        }
        let row = self.store.data_key(patient, version).await?.ok_or(CryptoError::Open)?;
        let key = self.unwrap_key(&row)?;
        self.lock().keys.insert(id, (key.clone(), Instant::now()));
        Ok(key)
    }

    fn unwrap_raw(&self, row: &DataKeyRow) -> Result<[u8; 32], CryptoError> {
        let kek = self.keks.get_or_reload(row.kek_version).ok_or(CryptoError::Open)?;
        let raw = open_with(&kek, &wrap_aad(&row.patient_id, row.version, row.kek_version), &row.wrapped)?;
        raw.try_into().map_err(|_| CryptoError::Open)
    }

    fn unwrap_key(&self, row: &DataKeyRow) -> Result<Aes256Gcm, CryptoError> {
        Ok(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&self.unwrap_raw(row)?)))
    }

    /// Re-reads the key file, then rewraps every data key still under an older KEK with the
    /// current one; returns how many.
    /// Safe while serving: each row changes in one conditional update, and both wrappings
    /// unwrap to the same key.
    pub async fn rewrap_all(&self) -> Result<u64, CryptoError> {
        self.keks.reload().map_err(|e| CryptoError::KeyFile(e.to_string()))?;
        let (current, kek) = self.keks.current();
        let mut done = 0;
        for row in self.store.data_keys_not_under(current).await? {
            let raw = self.unwrap_raw(&row)?;
            let wrapped = seal_with(&kek, FORMAT_DATA_KEY, current, &wrap_aad(&row.patient_id, row.version, current), &raw)?;
            if self.store.rewrap_data_key(&row.patient_id, row.version, row.kek_version, current, &wrapped[5..]).await? {
                done += 1;
            }
        }
        Ok(done)
    }

    /// Forgets a patient's keys held in memory (after a shred).
    pub fn forget(&self, patient: &str) {
        let mut c = self.lock();
        c.keys.retain(|(p, _), _| p != patient);
        c.reserved.remove(patient);
    }
}
