//! Configuration layering: built-in defaults, then the TOML file, then
//! `HAUL__SECTION__KEY` environment variables. Unknown keys are errors.

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use haul_core::Settings;
use std::path::Path;

/// The environment prefix; `HAUL__S3__BUCKET` sets `s3.bucket`.
pub const ENV_PREFIX: &str = "HAUL__";

pub fn load(file: Option<&Path>) -> anyhow::Result<Settings> {
    let mut figment = Figment::from(Serialized::defaults(Settings::default()));
    if let Some(path) = file {
        if !path.is_file() {
            bail!("config file {} does not exist", path.display());
        }
        figment = figment.merge(Toml::file_exact(path));
    }
    figment = figment.merge(Env::prefixed(ENV_PREFIX).split("__"));
    let settings: Settings = figment
        .extract()
        .map_err(|e| anyhow::anyhow!(describe(e)))
        .context("invalid configuration")?;
    settings.validate()?;
    Ok(settings)
}

/// Figment's errors, one line each, naming the key (`server.bind`) and where
/// its value came from (file or environment variable).
fn describe(err: figment::Error) -> String {
    err.into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let source = e
                .metadata
                .as_ref()
                .map(|m| m.name.to_string())
                .unwrap_or_default();
            let at = if key.is_empty() {
                String::new()
            } else {
                format!("`{key}`: ")
            };
            format!("{at}{} ({source})", e.kind)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    const SECRET: &str = "[auth]\nsigning_secret = \"0123456789abcdef0123456789abcdef\"\n";

    #[test]
    fn file_layers_over_defaults() {
        let f = file(&format!(
            "{SECRET}[worker]\npart_size = \"16MiB\"\n[datasets.events]\ntable = \"public.events\"\nkey = [\"id\"]\n"
        ));
        let s = load(Some(f.path())).unwrap();
        assert_eq!(s.worker.part_size.0, 16 << 20);
        assert_eq!(s.worker.parts_in_flight, 2);
        assert_eq!(s.datasets["events"].key, ["id"]);
    }

    #[test]
    fn unknown_keys_are_named() {
        let f = file(&format!("{SECRET}[server]\nbindd = \"x\"\n"));
        let e = format!("{:#}", load(Some(f.path())).unwrap_err());
        assert!(e.contains("bindd"), "{e}");
        let f = file(&format!("{SECRET}[worker]\npart_size = \"lots\"\n"));
        let e = format!("{:#}", load(Some(f.path())).unwrap_err());
        assert!(e.contains("worker.part_size"), "{e}");
    }

    #[test]
    fn validation_names_the_key() {
        let f = file("[s3]\nbucket = \"b\"\n");
        let e = format!("{:#}", load(Some(f.path())).unwrap_err());
        assert!(e.contains("auth.signing_secret"), "{e}");
    }
}

#[cfg(test)]
mod default_file {
    use super::*;

    /// `config/default.toml` documents every setting with its real default:
    /// loading it must give exactly `Settings::default()`.
    #[test]
    fn documented_defaults_match_the_code() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/default.toml");
        let from_file: Settings = Figment::from(Toml::file_exact(&path)).extract().unwrap();
        let as_json = |s: &Settings| serde_json::to_value(s).unwrap();
        assert_eq!(as_json(&from_file), as_json(&Settings::default()));
    }

    /// The README's configuration reference names every setting (optional
    /// ones included), so it cannot fall behind the code.
    #[test]
    fn readme_reference_names_every_setting() {
        let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
        let readme = std::fs::read_to_string(readme_path).unwrap();
        let reference = readme
            .split("## Configuration reference")
            .nth(1)
            .expect("README has a configuration reference");
        let settings = serde_json::to_value(Settings::default()).unwrap();
        let mut missing = Vec::new();
        for (section, keys) in settings.as_object().unwrap() {
            let Some(keys) = keys.as_object() else {
                continue;
            };
            if section == "datasets" {
                continue;
            }
            for key in keys.keys() {
                let name = format!("`{section}.{key}`");
                if !reference.contains(&name) {
                    missing.push(name);
                }
            }
        }
        assert!(missing.is_empty(), "README reference lacks {missing:?}");
    }
}
