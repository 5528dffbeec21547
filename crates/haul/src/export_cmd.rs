//! `haul export create|status|wait|download|list|cancel`: the command-line
//! client, built on `haul-client`. Needs only `--url` and `--api-key` (or
//! HAUL_URL and HAUL_API_KEY), never a configuration file.

use crate::export_args::{CreateArgs, DownloadArgs, ExportArgs, ExportCommand};
use crate::progress::{DownloadBar, ExportBar, summary};
use anyhow::{Context, bail};
use haul_client::{Client, ExistingFile, Export, ExportRequest, ListQuery, Status, WaitOptions};
use indicatif::HumanBytes;
use std::path::{Path, PathBuf};

pub async fn run(args: Box<ExportArgs>) -> anyhow::Result<()> {
    let url = args
        .url
        .context("Haul's URL is needed: pass --url or set HAUL_URL")?;
    let key = args
        .api_key
        .context("an API key is needed: pass --api-key or set HAUL_API_KEY")?;
    let client = Client::new(&url, &key)?;
    match args.command {
        ExportCommand::Create(create) => run_create(&client, *create).await,
        ExportCommand::Status { id, json } => {
            let export = client.get_export(id).await?;
            print_export(&export, json)
        }
        ExportCommand::Wait { id, json } => {
            let export = wait(&client, id).await?;
            if json {
                print_export(&export, true)?;
            }
            succeeded(&export)
        }
        ExportCommand::Download(download) => run_download(&client, download).await,
        ExportCommand::List {
            status,
            limit,
            json,
        } => run_list(&client, status, limit, json).await,
        ExportCommand::Cancel { id, json } => {
            let export = client.cancel_export(id).await?;
            if json {
                print_export(&export, true)
            } else {
                println!("{} {}", export.id, export.status);
                Ok(())
            }
        }
    }
}

async fn run_create(client: &Client, args: CreateArgs) -> anyhow::Result<()> {
    let filter = match &args.filter {
        Some(text) => {
            let value: serde_json::Value =
                serde_json::from_str(text).context("--filter is not valid JSON")?;
            if !value.is_object() {
                bail!("--filter must be a JSON object such as '{{\"kind\": {{\"eq\": \"buy\"}}}}'");
            }
            Some(value)
        }
        None => None,
    };
    let request = ExportRequest {
        dataset: args.dataset.clone(),
        format: args.format.clone(),
        compression: args.compression.clone(),
        columns: args.columns.clone(),
        filter,
        since: args.since.clone(),
        header: args.header(),
        timezone: args.timezone.clone(),
        filename: args.filename.clone(),
        callback_url: args.callback_url.clone(),
    };
    let created = client
        .create_export(&request, args.idempotency_key.as_deref())
        .await?;
    if !(args.wait || args.output.is_some()) {
        return print_export_or_id(&created, args.json);
    }
    if !args.json {
        println!("{}", created.id);
    }
    let export = wait(client, created.id).await?;
    if args.json {
        print_export(&export, true)?;
    }
    succeeded(&export)?;
    if let Some(output) = &args.output {
        download(client, &export, output, ExistingFile::Resume).await?;
    }
    Ok(())
}

async fn run_download(client: &Client, args: DownloadArgs) -> anyhow::Result<()> {
    let export = client.get_export(args.id).await?;
    let output = match (&args.output, &export.result) {
        (Some(path), _) => path.clone(),
        (None, Some(result)) => PathBuf::from(&result.filename),
        (None, None) => PathBuf::from(format!("{}", export.id)),
    };
    let existing = if args.restart {
        ExistingFile::Replace
    } else {
        ExistingFile::Resume
    };
    download(client, &export, &output, existing).await
}

async fn run_list(
    client: &Client,
    status: Option<String>,
    limit: u32,
    json: bool,
) -> anyhow::Result<()> {
    let status = status
        .map(|s| {
            serde_json::from_value::<Status>(serde_json::Value::String(s.clone()))
                .ok()
                .filter(|s| *s != Status::Unknown)
                .with_context(|| format!("--status: `{s}` is not a status"))
        })
        .transpose()?;
    let page = client
        .list_exports(&ListQuery {
            status,
            limit: Some(limit),
            cursor: None,
        })
        .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&page)?);
        return Ok(());
    }
    println!(
        "{:<36}  {:<9}  {:<16}  {:<6}  {:>10}  {:>10}  CREATED",
        "ID", "STATUS", "DATASET", "FORMAT", "ROWS", "BYTES"
    );
    for e in &page.exports {
        println!(
            "{:<36}  {:<9}  {:<16}  {:<6}  {:>10}  {:>10}  {}",
            e.id,
            e.status,
            e.dataset,
            e.format,
            e.progress.rows,
            HumanBytes(e.progress.bytes).to_string(),
            e.created_at.format("%Y-%m-%d %H:%M:%SZ")
        );
    }
    Ok(())
}

async fn wait(client: &Client, id: uuid::Uuid) -> anyhow::Result<Export> {
    let mut bar = ExportBar::default();
    let export = client
        .wait(id, &WaitOptions::default(), |e| bar.update(e))
        .await;
    match export {
        Ok(export) => {
            bar.finish(&export);
            Ok(export)
        }
        Err(e) => Err(e.into()),
    }
}

fn succeeded(export: &Export) -> anyhow::Result<()> {
    if export.status != Status::Succeeded {
        bail!("{}", summary(export));
    }
    Ok(())
}

async fn download(
    client: &Client,
    export: &Export,
    output: &Path,
    existing: ExistingFile,
) -> anyhow::Result<()> {
    let mut bar = DownloadBar::default();
    let outcome = client
        .download_to_file(export, output, existing, |p| bar.update(p))
        .await;
    bar.finish();
    let outcome = outcome?;
    let how = if outcome.resumed_from > 0 {
        format!(
            "resumed at byte {}, fetched {} bytes",
            outcome.resumed_from, outcome.fetched
        )
    } else {
        format!("fetched {} bytes", outcome.fetched)
    };
    eprintln!(
        "downloaded {} ({} bytes, {how}); sha256 {} verified",
        outcome.path.display(),
        outcome.bytes,
        outcome.sha256
    );
    Ok(())
}

fn print_export_or_id(export: &Export, json: bool) -> anyhow::Result<()> {
    if json {
        print_export(export, true)
    } else {
        println!("{}", export.id);
        Ok(())
    }
}

fn print_export(export: &Export, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(export)?);
        return Ok(());
    }
    let p = &export.progress;
    let estimate = p
        .rows_estimate
        .map(|n| format!(" of ~{n}"))
        .unwrap_or_default();
    println!("id:        {}", export.id);
    println!(
        "dataset:   {} ({}, compression {})",
        export.dataset, export.format, export.compression
    );
    println!("status:    {}", export.status);
    println!(
        "progress:  {} rows{estimate}, {}",
        p.rows,
        HumanBytes(p.bytes)
    );
    println!("created:   {}", export.created_at.to_rfc3339());
    if let Some(t) = export.finished_at {
        println!("finished:  {}", t.to_rfc3339());
    }
    if let Some(t) = export.expires_at {
        println!("expires:   {}", t.to_rfc3339());
    }
    if let Some(r) = &export.result {
        println!(
            "file:      {} ({}, {} bytes)",
            r.filename, r.content_type, r.bytes
        );
        println!("rows:      {}", r.rows);
        println!("sha256:    {}", r.sha256);
        println!("next_since: {}", r.next_since);
    }
    if let Some(link) = &export.links.download {
        println!("download:  {link}");
    }
    if let Some(e) = &export.error {
        println!("error:     {}: {}", e.code, e.message);
    }
    Ok(())
}
