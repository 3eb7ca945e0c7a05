//! `ml-connector secrets`: manage the encrypted secrets of a data directory.
//!
//! ```text
//! ml-connector secrets generate-key [--out FILE]
//! ml-connector secrets set    --data-dir D --tenant T --scope S NAME   (value on stdin)
//! ml-connector secrets list   --data-dir D [--tenant T]                (names only)
//! ml-connector secrets delete --data-dir D --tenant T --scope S NAME
//! ml-connector secrets rotate --data-dir D --new-key-file F | --new-key-env VAR
//! ```
//!
//! `--config FILE` may replace `--data-dir` (its `service.data_dir` is used). The master key
//! comes from `MLC_MASTER_KEY` or the file named by `MLC_MASTER_KEY_FILE` (or
//! `--master-key-file`), never from the data directory. Values are read from stdin, never from
//! the command line (which other users can see in the process list). A wrong key is refused
//! before anything is read or written.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand};

use crate::config::Config;
use crate::db::{Store, StoreError, open_data_dir};
use crate::vault::{
    MASTER_KEY_ENV, MASTER_KEY_FILE_ENV, MasterKey, SecretString, Vault, VaultError,
};

/// `ml-connector secrets …`
#[derive(Debug, Args)]
pub struct SecretsArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: SecretsCommand,
}

/// Where the store is and which key opens it.
#[derive(Debug, Clone, Args)]
pub struct StoreLocation {
    /// Data directory holding `ml-connector.db`.
    #[arg(long, required_unless_present = "config", conflicts_with = "config")]
    pub data_dir: Option<PathBuf>,
    /// Service config file; its `service.data_dir` is used.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// File holding the master key (instead of `MLC_MASTER_KEY` / `MLC_MASTER_KEY_FILE`).
    #[arg(long)]
    pub master_key_file: Option<PathBuf>,
}

/// The `secrets` subcommands.
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Print a new random master key (base64), or write it to a new file (mode 0600).
    GenerateKey {
        /// Write the key to this file (must not exist) instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Store a secret; the value is read from stdin (one trailing newline is dropped).
    Set {
        /// Store and key.
        #[command(flatten)]
        location: StoreLocation,
        /// Tenant id.
        #[arg(long)]
        tenant: String,
        /// A plugin id, `connection:<id>` for a connection's client secret, or `webhook`.
        #[arg(long)]
        scope: String,
        /// Secret name.
        name: String,
    },
    /// List stored secrets as `tenant scope name` (never values).
    List {
        /// Store and key.
        #[command(flatten)]
        location: StoreLocation,
        /// Only this tenant.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Delete a secret.
    Delete {
        /// Store and key.
        #[command(flatten)]
        location: StoreLocation,
        /// Tenant id.
        #[arg(long)]
        tenant: String,
        /// Scope.
        #[arg(long)]
        scope: String,
        /// Secret name.
        name: String,
    },
    /// Re-encrypt every secret under a new master key, atomically; cached tokens are dropped.
    Rotate {
        /// Store and (current) key.
        #[command(flatten)]
        location: StoreLocation,
        /// File holding the new key.
        #[arg(
            long,
            required_unless_present = "new_key_env",
            conflicts_with = "new_key_env"
        )]
        new_key_file: Option<PathBuf>,
        /// Environment variable holding the new key.
        #[arg(long)]
        new_key_env: Option<String>,
    },
}

/// Why a `secrets` command failed.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The config file could not be used.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The store could not be opened or used.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The key is missing or wrong, or a secret failed to open.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// An argument is not acceptable.
    #[error("{0}")]
    Usage(String),
    /// Reading stdin or writing output failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> SecretsError {
    let what = what.into();
    move |source| SecretsError::Io { what, source }
}

/// Runs a `secrets` command reading values from `stdin` and printing to `out`; the master key
/// comes from `--master-key-file` or the environment.
pub fn run(
    command: SecretsCommand,
    stdin: &mut impl Read,
    out: &mut impl Write,
) -> Result<(), SecretsError> {
    execute(command, &env_key, stdin, out)
}

fn env_key(location: &StoreLocation) -> Result<MasterKey, VaultError> {
    match &location.master_key_file {
        Some(path) => MasterKey::from_file(path),
        None => MasterKey::from_env(),
    }
}

/// [`run`] with the way the current key is found passed in (tests cannot set the environment).
pub fn execute(
    command: SecretsCommand,
    key_for: &dyn Fn(&StoreLocation) -> Result<MasterKey, VaultError>,
    stdin: &mut impl Read,
    out: &mut impl Write,
) -> Result<(), SecretsError> {
    match command {
        SecretsCommand::GenerateKey { out: file } => {
            let key = MasterKey::generate();
            match file {
                Some(path) => {
                    write_new_key_file(&path, &key)?;
                    writeln!(
                        out,
                        "wrote a new master key to {} (fingerprint {}); keep it away from the data directory and point {MASTER_KEY_FILE_ENV} at it",
                        path.display(),
                        key.fingerprint()
                    )
                    .map_err(io("writing output"))?;
                }
                None => writeln!(out, "{}", key.to_base64()).map_err(io("writing output"))?,
            }
        }
        SecretsCommand::Set {
            location,
            tenant,
            scope,
            name,
        } => {
            check_slot(&tenant, &scope, &name)?;
            let (_, vault) = open(&location, key_for)?;
            let mut value = String::new();
            stdin
                .read_to_string(&mut value)
                .map_err(io("reading the secret value from stdin"))?;
            let value = value
                .strip_suffix('\n')
                .map(|v| v.strip_suffix('\r').unwrap_or(v))
                .unwrap_or(&value);
            if value.is_empty() {
                return Err(SecretsError::Usage(
                    "the secret value on stdin is empty; nothing stored".into(),
                ));
            }
            vault.put(&tenant, &scope, &name, &SecretString::new(value))?;
            writeln!(out, "stored {tenant} {scope} {name}").map_err(io("writing output"))?;
        }
        SecretsCommand::List { location, tenant } => {
            // Names are not secret, but a wrong key is still worth saying out loud.
            let (store, _) = open(&location, key_for)?;
            for (t, scope, name) in store.secret_list(tenant.as_deref())? {
                writeln!(out, "{t} {scope} {name}").map_err(io("writing output"))?;
            }
        }
        SecretsCommand::Delete {
            location,
            tenant,
            scope,
            name,
        } => {
            let (_, vault) = open(&location, key_for)?;
            if vault.delete(&tenant, &scope, &name)? {
                writeln!(out, "deleted {tenant} {scope} {name}").map_err(io("writing output"))?;
            } else {
                return Err(SecretsError::Usage(format!(
                    "no secret {tenant} {scope} {name}"
                )));
            }
        }
        SecretsCommand::Rotate {
            location,
            new_key_file,
            new_key_env,
        } => {
            let new_key = match (new_key_file, new_key_env) {
                (Some(path), _) => MasterKey::from_file(&path)?,
                (None, Some(var)) => MasterKey::parse(&std::env::var(&var).map_err(|_| {
                    SecretsError::Usage(format!("environment variable `{var}` is not set"))
                })?)?,
                (None, None) => {
                    return Err(SecretsError::Usage(
                        "give --new-key-file or --new-key-env".into(),
                    ));
                }
            };
            let (store, vault) = open(&location, key_for)?;
            let old = key_for(&location)?.fingerprint();
            if old == new_key.fingerprint() {
                return Err(SecretsError::Usage(
                    "the new key is the current key; nothing changed".into(),
                ));
            }
            let (_, count) = vault.rotate(new_key.clone())?;
            // Cached tokens were sealed with the old key; the service fetches new ones.
            let dropped = store.token_delete_all()?;
            writeln!(
                out,
                "re-encrypted {count} secrets under key {} (was {old}); dropped {dropped} cached tokens. Point {MASTER_KEY_ENV} or {MASTER_KEY_FILE_ENV} at the new key before the next start.",
                new_key.fingerprint()
            )
            .map_err(io("writing output"))?;
        }
    }
    Ok(())
}

/// The data directory a location names.
pub fn data_dir(location: &StoreLocation) -> Result<PathBuf, SecretsError> {
    match (&location.data_dir, &location.config) {
        (Some(dir), _) => Ok(dir.clone()),
        (None, Some(config)) => Ok(Config::load(config)?.service.data_dir),
        (None, None) => Err(SecretsError::Usage("give --data-dir or --config".into())),
    }
}

fn open(
    location: &StoreLocation,
    key_for: &dyn Fn(&StoreLocation) -> Result<MasterKey, VaultError>,
) -> Result<(Arc<dyn Store>, Vault), SecretsError> {
    // The key first: without it nothing is opened, let alone created.
    let key = key_for(location)?;
    let store = open_data_dir(&data_dir(location)?)?;
    let vault = Vault::open(store.clone(), key)?;
    Ok((store, vault))
}

fn check_slot(tenant: &str, scope: &str, name: &str) -> Result<(), SecretsError> {
    let is_id = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if !is_id(tenant) {
        return Err(SecretsError::Usage(format!(
            "tenant `{tenant}` must be lower-case letters, digits and `-`"
        )));
    }
    let scope_ok = match scope.strip_prefix("connection:") {
        Some(conn) => !conn.is_empty() && !conn.contains(char::is_whitespace),
        None => is_id(scope),
    };
    if !scope_ok {
        return Err(SecretsError::Usage(format!(
            "scope `{scope}` must be a plugin id, `webhook`, or `connection:<id>`"
        )));
    }
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(SecretsError::Usage(format!(
            "secret name `{name}` must be non-empty without spaces"
        )));
    }
    Ok(())
}

fn write_new_key_file(path: &Path, key: &MasterKey) -> Result<(), SecretsError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(io(format!("creating key file {}", path.display())))?;
    writeln!(file, "{}", key.to_base64())
        .map_err(io(format!("writing key file {}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mlc-secrets-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn loc(dir: &Path) -> StoreLocation {
        StoreLocation {
            data_dir: Some(dir.join("data")),
            config: None,
            master_key_file: None,
        }
    }

    fn exec(cmd: SecretsCommand, key: &MasterKey, stdin: &str) -> Result<String, SecretsError> {
        let mut out = Vec::new();
        let key = key.clone();
        execute(
            cmd,
            &move |_| Ok(key.clone()),
            &mut stdin.as_bytes(),
            &mut out,
        )?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn set_list_rotate_delete_and_wrong_keys() {
        let dir = temp_dir();
        let k1 = MasterKey::generate();
        let set = |name: &str| SecretsCommand::Set {
            location: loc(&dir),
            tenant: "acme".into(),
            scope: "connection:ups".into(),
            name: name.into(),
        };
        exec(set("client-secret"), &k1, "s3cr3t-value\n").unwrap();
        let listed = exec(
            SecretsCommand::List {
                location: loc(&dir),
                tenant: None,
            },
            &k1,
            "",
        )
        .unwrap();
        assert_eq!(listed, "acme connection:ups client-secret\n");
        assert!(!listed.contains("s3cr3t"));

        // A wrong key: refused, nothing overwritten.
        let k_wrong = MasterKey::generate();
        let err = exec(set("client-secret"), &k_wrong, "other\n").unwrap_err();
        assert!(err.to_string().contains("key"), "{err}");
        let db = std::fs::read(dir.join("data").join(crate::db::DB_FILE)).unwrap();
        assert!(!db.windows(12).any(|w| w == b"s3cr3t-value"));

        // Rotation: the new key opens it, the old one no longer does.
        let key_file = dir.join("new.key");
        exec(
            SecretsCommand::GenerateKey {
                out: Some(key_file.clone()),
            },
            &k1,
            "",
        )
        .unwrap();
        let k2 = MasterKey::from_file(&key_file).unwrap();
        let said = exec(
            SecretsCommand::Rotate {
                location: loc(&dir),
                new_key_file: Some(key_file),
                new_key_env: None,
            },
            &k1,
            "",
        )
        .unwrap();
        assert!(said.contains("re-encrypted 1 secrets"), "{said}");
        let store: Arc<dyn Store> = open_data_dir(&dir.join("data")).unwrap();
        let v2 = Vault::open(store.clone(), k2.clone()).unwrap();
        assert_eq!(
            v2.get("acme", "connection:ups", "client-secret")
                .unwrap()
                .unwrap()
                .expose(),
            "s3cr3t-value"
        );
        assert!(matches!(
            Vault::open(store, k1.clone()),
            Err(VaultError::WrongKey { .. })
        ));
        assert!(exec(set("x"), &k1, "v").is_err());

        exec(
            SecretsCommand::Delete {
                location: loc(&dir),
                tenant: "acme".into(),
                scope: "connection:ups".into(),
                name: "client-secret".into(),
            },
            &k2,
            "",
        )
        .unwrap();
        let err = exec(
            SecretsCommand::Set {
                location: loc(&dir),
                tenant: "Acme Corp".into(),
                scope: "ups".into(),
                name: "x".into(),
            },
            &k2,
            "v",
        )
        .unwrap_err();
        assert!(matches!(err, SecretsError::Usage(_)), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
