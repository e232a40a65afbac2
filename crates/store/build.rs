//! `sqlx::migrate!` embeds the migration files when the crate compiles; a file added to the
//! directory must make it compile again, which Cargo cannot know without being told.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
