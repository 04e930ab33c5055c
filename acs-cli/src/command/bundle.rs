//! `acs bundle`: make a rules bundle deployable whole: write its manifest (every rules
//! file and its SHA-256), sign it, check it, and make the key pair. Every rule is the
//! engine's (`acs_engine::bundle`); this only names files and prints.

use std::path::{Path, PathBuf};

use acs_engine::bundle::{self, PrivateKey, PublicKey};

use super::{Io, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};

/// Arguments of `acs bundle`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

/// What to do with the bundle.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Write DIR/acs-manifest.json: every rules file of the bundle with its SHA-256. Run
    /// it after the rules files are in place; an engine then serves only this set.
    Manifest {
        /// The bundle directory.
        dir: PathBuf,
    },
    /// Sign DIR/acs-manifest.json with a private key (writes acs-manifest.json.sig).
    Sign {
        /// The bundle directory.
        dir: PathBuf,
        /// The private key file (from `acs bundle keygen`).
        #[arg(long, value_name = "KEY_FILE")]
        key: PathBuf,
    },
    /// Check DIR against its manifest and, with --public-key, its signature: what an
    /// engine would do before serving it. Exit status 1 when it would be refused.
    Verify {
        /// The bundle directory.
        dir: PathBuf,
        /// The public key an engine checks signatures with.
        #[arg(long, value_name = "KEY_FILE.pub")]
        public_key: Option<PathBuf>,
    },
    /// Make a key pair: FILE (the private key, for the deploy pipeline) and FILE.pub (for
    /// the engines).
    Keygen {
        /// Where to write the private key; the public key goes to FILE.pub.
        file: PathBuf,
    },
}

/// Run `acs bundle`; returns the exit code.
pub fn run(args: &Args, io: &mut Io<'_>) -> u8 {
    match bundle(&args.action, io) {
        Ok(code) => code,
        Err(message) => {
            let _ = writeln!(io.stderr, "error: {message}");
            EXIT_USAGE
        }
    }
}

fn bundle(action: &Action, io: &mut Io<'_>) -> Result<u8, String> {
    let out = |io: &mut Io<'_>, line: String| {
        let _ = writeln!(io.stdout, "{line}");
    };
    match action {
        Action::Manifest { dir } => {
            let manifest = bundle::write_manifest(dir).map_err(|e| e.to_string())?;
            let files = manifest.files.len();
            out(
                io,
                format!(
                    "wrote {}: {files} rules file{}",
                    dir.join(bundle::MANIFEST_FILE).display(),
                    if files == 1 { "" } else { "s" }
                ),
            );
            Ok(EXIT_OK)
        }
        Action::Sign { dir, key } => {
            let key = PrivateKey::read(key).map_err(|e| e.to_string())?;
            bundle::sign(dir, &key).map_err(|e| e.to_string())?;
            out(
                io,
                format!("wrote {}", dir.join(bundle::SIGNATURE_FILE).display()),
            );
            Ok(EXIT_OK)
        }
        Action::Verify { dir, public_key } => {
            let key = public_key
                .as_deref()
                .map(PublicKey::read)
                .transpose()
                .map_err(|e| e.to_string())?;
            match bundle::verify(dir, key.as_ref()) {
                Ok(Some(manifest)) => {
                    let signed = if key.is_some() {
                        ", signature verified"
                    } else {
                        ""
                    };
                    out(
                        io,
                        format!(
                            "ok: {}: {} files as listed{signed}",
                            dir.display(),
                            manifest.files.len()
                        ),
                    );
                    Ok(EXIT_OK)
                }
                Ok(None) => {
                    out(
                        io,
                        format!(
                            "ok: {}: no {} (served as read, not checked)",
                            dir.display(),
                            bundle::MANIFEST_FILE
                        ),
                    );
                    Ok(EXIT_OK)
                }
                Err(error) => {
                    let _ = writeln!(io.stderr, "refused: {error}");
                    Ok(EXIT_FINDINGS)
                }
            }
        }
        Action::Keygen { file } => {
            let key = PrivateKey::generate().map_err(|e| e.to_string())?;
            let public = public_path(file);
            write_new(file, &key.to_hex())?;
            write_new(&public, &key.public_key().to_hex())?;
            out(
                io,
                format!(
                    "wrote {} (private: keep it with the deploy pipeline) and {} (public: give it to the engines)",
                    file.display(),
                    public.display()
                ),
            );
            Ok(EXIT_OK)
        }
    }
}

fn public_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// Write a key file that must not exist yet: a key is never overwritten by accident.
fn write_new(path: &Path, hex: &str) -> Result<(), String> {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
    writeln!(file, "{hex}").map_err(|e| format!("cannot write `{}`: {e}", path.display()))
}
