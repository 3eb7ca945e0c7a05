//! Secrets at rest: AES-256-GCM under a master key that never touches the store.
//!
//! Every secret is sealed with a fresh random nonce and with its slot (tenant, scope, name) as
//! associated data, so a sealed blob copied into another tenant's or plugin's slot fails to
//! open instead of leaking. The store remembers only the master key's fingerprint, which lets
//! the host refuse a wrong key up front: nothing is decrypted and nothing overwritten.
//!
//! The master key is 32 bytes, given base64- or hex-encoded in `MLC_MASTER_KEY`, or in a file
//! named by `MLC_MASTER_KEY_FILE`.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::{Store, StoreError};

const MAGIC: &[u8; 4] = b"MLC1";
const FINGERPRINT_META: &str = "vault.key_fingerprint";
/// Environment variable holding the master key.
pub const MASTER_KEY_ENV: &str = "MLC_MASTER_KEY";
/// Environment variable naming a file that holds the master key.
pub const MASTER_KEY_FILE_ENV: &str = "MLC_MASTER_KEY_FILE";

/// A secret value. Its `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        SecretString(value.into())
    }
    /// The value itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

/// Vault failures, naming the secret concerned.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// No master key was configured.
    #[error(
        "no master key: set {MASTER_KEY_ENV} (32 bytes, base64 or hex) or {MASTER_KEY_FILE_ENV}"
    )]
    NoKey,
    /// The configured key is malformed.
    #[error("the master key is invalid: {0}")]
    BadKey(String),
    /// The store was sealed under another key.
    #[error(
        "the master key does not match this data directory (it was sealed with key {expected}, this key is {actual}); nothing was decrypted or changed"
    )]
    WrongKey {
        /// Fingerprint recorded in the store.
        expected: String,
        /// Fingerprint of the configured key.
        actual: String,
    },
    /// A sealed secret failed to open (tampered, or moved between slots).
    #[error("secret `{name}` of `{tenant}/{scope}` cannot be decrypted: {reason}")]
    Corrupt {
        /// Tenant.
        tenant: String,
        /// Scope (plugin id or `connection:<id>`).
        scope: String,
        /// Name.
        name: String,
        /// Why.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A 256-bit master key.
#[derive(Clone)]
pub struct MasterKey {
    bytes: [u8; 32],
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({})", self.fingerprint())
    }
}

impl MasterKey {
    /// Parses 32 bytes given as base64 (standard or URL-safe) or 64 hex digits.
    pub fn parse(text: &str) -> Result<Self, VaultError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|e| VaultError::BadKey(e.to_string()))?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(text))
                .map_err(|_| VaultError::BadKey("not base64 or 64 hex digits".into()))?
        };
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|v: Vec<u8>| VaultError::BadKey(format!("{} bytes, need 32", v.len())))?;
        Ok(MasterKey { bytes })
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        MasterKey { bytes }
    }

    /// The key as base64, for printing once at generation.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.bytes)
    }

    /// Reads the key from `MLC_MASTER_KEY`, else from the file named by `MLC_MASTER_KEY_FILE`.
    pub fn from_env() -> Result<Self, VaultError> {
        if let Ok(text) = std::env::var(MASTER_KEY_ENV) {
            return Self::parse(&text);
        }
        if let Ok(path) = std::env::var(MASTER_KEY_FILE_ENV) {
            return Self::from_file(Path::new(&path));
        }
        Err(VaultError::NoKey)
    }

    /// Reads the key from a file.
    pub fn from_file(path: &Path) -> Result<Self, VaultError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| VaultError::BadKey(format!("cannot read {}: {e}", path.display())))?;
        Self::parse(&text)
    }

    /// A short public identifier of the key (not usable to recover it).
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest([b"mlc-vault-fingerprint".as_slice(), &self.bytes].concat());
        hex::encode(&digest[..8])
    }
}

/// Seals and opens secrets in a [`Store`].
#[derive(Clone)]
pub struct Vault {
    store: Arc<dyn Store>,
    key: MasterKey,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Vault {
    /// Opens the vault: the first key used with a store is recorded; later opens must use it.
    pub fn open(store: Arc<dyn Store>, key: MasterKey) -> Result<Self, VaultError> {
        let actual = key.fingerprint();
        match store.meta_get(FINGERPRINT_META)? {
            Some(expected) if expected != actual => {
                return Err(VaultError::WrongKey { expected, actual });
            }
            Some(_) => {}
            None => store.meta_put(FINGERPRINT_META, &actual)?,
        }
        Ok(Vault { store, key })
    }

    fn cipher(key: &MasterKey) -> Aes256Gcm {
        Aes256Gcm::new(&key.bytes.into())
    }

    fn aad(tenant: &str, scope: &str, name: &str) -> Vec<u8> {
        // Length-prefixed so ("a","bc") and ("ab","c") differ.
        let mut aad = Vec::new();
        for part in [tenant, scope, name] {
            aad.extend_from_slice(&(part.len() as u64).to_be_bytes());
            aad.extend_from_slice(part.as_bytes());
        }
        aad
    }

    fn seal_with(key: &MasterKey, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        // Encryption with a valid key and a 12-byte nonce cannot fail for inputs under 64 GiB.
        let ct = Self::cipher(key)
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .unwrap_or_default();
        [MAGIC.as_slice(), &nonce, &ct].concat()
    }

    fn open_with(key: &MasterKey, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, String> {
        if sealed.len() < 4 + 12 + 16 || &sealed[..4] != MAGIC {
            return Err("not a sealed secret".into());
        }
        let (nonce, ct) = sealed[4..].split_at(12);
        Self::cipher(key)
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
            .map_err(|_| {
                "authentication failed (wrong key, or the blob was altered or moved)".into()
            })
    }

    /// Seals arbitrary bytes bound to a slot (used for cached tokens too).
    pub fn seal(&self, tenant: &str, scope: &str, name: &str, plaintext: &[u8]) -> Vec<u8> {
        Self::seal_with(&self.key, &Self::aad(tenant, scope, name), plaintext)
    }

    /// Opens bytes sealed by [`Vault::seal`] for the same slot.
    pub fn unseal(
        &self,
        tenant: &str,
        scope: &str,
        name: &str,
        sealed: &[u8],
    ) -> Result<Vec<u8>, VaultError> {
        Self::open_with(&self.key, &Self::aad(tenant, scope, name), sealed).map_err(|reason| {
            VaultError::Corrupt {
                tenant: tenant.into(),
                scope: scope.into(),
                name: name.into(),
                reason,
            }
        })
    }

    /// Stores a secret.
    pub fn put(
        &self,
        tenant: &str,
        scope: &str,
        name: &str,
        value: &SecretString,
    ) -> Result<(), VaultError> {
        let sealed = self.seal(tenant, scope, name, value.expose().as_bytes());
        Ok(self.store.secret_put(tenant, scope, name, &sealed)?)
    }

    /// Reads a secret; `None` when absent.
    pub fn get(
        &self,
        tenant: &str,
        scope: &str,
        name: &str,
    ) -> Result<Option<SecretString>, VaultError> {
        let Some(sealed) = self.store.secret_get(tenant, scope, name)? else {
            return Ok(None);
        };
        let bytes = self.unseal(tenant, scope, name, &sealed)?;
        let text = String::from_utf8(bytes).map_err(|_| VaultError::Corrupt {
            tenant: tenant.into(),
            scope: scope.into(),
            name: name.into(),
            reason: "not UTF-8".into(),
        })?;
        Ok(Some(SecretString(text)))
    }

    /// Deletes a secret; true when it existed.
    pub fn delete(&self, tenant: &str, scope: &str, name: &str) -> Result<bool, VaultError> {
        Ok(self.store.secret_delete(tenant, scope, name)?)
    }

    /// Names of the stored secrets (never values): `(tenant, scope, name)`.
    pub fn list(&self, tenant: Option<&str>) -> Result<Vec<(String, String, String)>, VaultError> {
        Ok(self.store.secret_list(tenant)?)
    }

    /// Re-seals every secret under `new_key` in one transaction and returns the vault for the
    /// new key. If any secret fails to open, nothing changes.
    pub fn rotate(&self, new_key: MasterKey) -> Result<(Vault, usize), VaultError> {
        let old = self.key.clone();
        let listing = self.store.secret_list(None)?;
        // Secrets are sealed to their slot, so re-sealing needs each one's slot: look blobs up
        // by content in this pass (slots are unique; blobs are unique by their random nonce).
        let mut slots = std::collections::HashMap::new();
        for (tenant, scope, name) in listing {
            if let Some(blob) = self.store.secret_get(&tenant, &scope, &name)? {
                slots.insert(blob, Self::aad(&tenant, &scope, &name));
            }
        }
        let new_for_closure = new_key.clone();
        let count = self.store.secret_reseal_all(
            &mut |sealed| {
                let aad = slots.get(sealed).ok_or("secret changed during rotation")?;
                let plain = Self::open_with(&old, aad, sealed)?;
                Ok(Self::seal_with(&new_for_closure, aad, &plain))
            },
            FINGERPRINT_META,
            &new_key.fingerprint(),
        )?;
        Ok((
            Vault {
                store: self.store.clone(),
                key: new_key,
            },
            count,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Arc<dyn Store> {
        crate::db::in_memory().unwrap()
    }

    #[test]
    fn round_trip_and_slot_binding() {
        let s = store();
        let v = Vault::open(s.clone(), MasterKey::generate()).unwrap();
        v.put("t1", "ups", "credential", &SecretString::new("hunter2"))
            .unwrap();
        assert_eq!(
            v.get("t1", "ups", "credential").unwrap().unwrap().expose(),
            "hunter2"
        );
        assert!(v.get("t2", "ups", "credential").unwrap().is_none());
        // A blob moved into another tenant's slot does not open.
        let blob = s.secret_get("t1", "ups", "credential").unwrap().unwrap();
        assert!(
            !blob.windows(7).any(|w| w == b"hunter2"),
            "plaintext in the sealed blob"
        );
        s.secret_put("t2", "ups", "credential", &blob).unwrap();
        assert!(matches!(
            v.get("t2", "ups", "credential"),
            Err(VaultError::Corrupt { .. })
        ));
        assert_eq!(
            format!("{:?}", SecretString::new("hunter2")),
            "SecretString(<redacted>)"
        );
    }

    #[test]
    fn wrong_key_is_refused_and_rotation_is_atomic() {
        let s = store();
        let k1 = MasterKey::generate();
        let v = Vault::open(s.clone(), k1.clone()).unwrap();
        v.put("t", "p", "a", &SecretString::new("one")).unwrap();
        v.put("t", "p", "b", &SecretString::new("two")).unwrap();
        let err = Vault::open(s.clone(), MasterKey::generate()).unwrap_err();
        assert!(matches!(err, VaultError::WrongKey { .. }), "{err}");
        let k2 = MasterKey::generate();
        let (v2, n) = v.rotate(k2.clone()).unwrap();
        assert_eq!(n, 2);
        assert_eq!(v2.get("t", "p", "b").unwrap().unwrap().expose(), "two");
        assert!(matches!(
            Vault::open(s.clone(), k1),
            Err(VaultError::WrongKey { .. })
        ));
        assert!(Vault::open(s, k2).is_ok());
    }

    #[test]
    fn parses_keys() {
        let k = MasterKey::generate();
        assert_eq!(
            MasterKey::parse(&k.to_base64()).unwrap().fingerprint(),
            k.fingerprint()
        );
        assert!(MasterKey::parse(&"ab".repeat(32)).is_ok());
        assert!(matches!(
            MasterKey::parse("c2hvcnQ="),
            Err(VaultError::BadKey(_))
        ));
    }
}
