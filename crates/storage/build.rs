//! Rebuilds the crate when a migration is added (sqlx::migrate! embeds them).

//! Build script: rebuilds the crate when a migration changes.

fn main() {
    // sqlx::migrate! embeds migrations/ at compile time; rebuild when a migration is added.
    println!("cargo:rerun-if-changed=../../migrations");
}
