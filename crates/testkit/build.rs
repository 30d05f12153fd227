//! Rebuilds the crate when a migration is added (sqlx::migrate! embeds them).

fn main() {
    // sqlx::migrate! embeds migrations/ at compile time; rebuild when a migration is added.
    println!("cargo:rerun-if-changed=../../migrations");
}
