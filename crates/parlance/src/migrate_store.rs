//! `parlance migrate-store`: moves an installation from SQLite to PostgreSQL.

use clap::Args;
use parlance_store::Store;

#[derive(Debug, Args)]
pub struct MigrateStoreArgs {
    /// The SQLite database to copy: `sqlite:PATH` (the server's is `<data dir>/parlance.db`).
    #[arg(long, value_name = "URL")]
    from: String,
    /// The empty PostgreSQL database to fill: `postgres://user@host/database` (the password
    /// from `PGPASSWORD` or `~/.pgpass`, best kept out of the command line).
    #[arg(long, value_name = "URL")]
    to: String,
}

/// Copies, then prints what each table holds on both sides: rows and checksum.
pub async fn run(args: MigrateStoreArgs) -> anyhow::Result<()> {
    let copied = Store::migrate(&args.from, &args.to).await?;
    println!(
        "{:<20} {:>10}  checksum (the same on both engines)",
        "table", "rows"
    );
    for table in &copied {
        println!("{:<20} {:>10}  {}", table.table, table.rows, table.checksum);
    }
    println!(
        "copied {} tables, {} rows; point the servers at the new store (store.url or --store)",
        copied.len(),
        copied.iter().map(|t| t.rows).sum::<u64>()
    );
    Ok(())
}
