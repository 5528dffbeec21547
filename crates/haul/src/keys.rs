//! `haul keys create|list|revoke`.

use anyhow::bail;
use haul_core::api_key;
use haul_db::MetaDb;

/// Tenant names appear in object keys, so they stay plain.
pub fn is_tenant_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && !name.starts_with('.')
}

/// Creates a key for `tenant` and returns it; only its hash is stored.
pub async fn create(meta: &MetaDb, tenant: &str) -> anyhow::Result<String> {
    if !is_tenant_name(tenant) {
        bail!(
            "--tenant: `{tenant}` must be 1-64 of A-Z a-z 0-9 - _ . (it becomes part of object keys)"
        );
    }
    // A prefix collision (1 in 62^8 per pair) just draws another key.
    for _ in 0..5 {
        let key = api_key::generate();
        let prefix = api_key::prefix(&key).expect("generated keys are well-formed");
        if meta
            .insert_key(prefix, tenant, &api_key::hash(&key))
            .await?
        {
            return Ok(key);
        }
    }
    bail!("could not draw an unused key prefix")
}

pub async fn list(meta: &MetaDb) -> anyhow::Result<String> {
    let mut out = format!(
        "{:<10} {:<24} {:<26} {}\n",
        "PREFIX", "TENANT", "CREATED", "REVOKED"
    );
    for k in meta.list_keys().await? {
        let revoked = k
            .revoked_at
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| "-".into());
        out += &format!(
            "{:<10} {:<24} {:<26} {}\n",
            k.prefix,
            k.tenant,
            k.created_at.to_rfc3339(),
            revoked
        );
    }
    Ok(out)
}

pub async fn revoke(meta: &MetaDb, prefix: &str) -> anyhow::Result<()> {
    if !meta.revoke_key(prefix).await? {
        bail!("no live key has prefix `{prefix}`");
    }
    Ok(())
}
