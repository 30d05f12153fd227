//! Generates the gRPC code of proto/grades.proto.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A vendored protoc, so building needs nothing installed beyond Rust.
    if std::env::var_os("PROTOC").is_none() {
        std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?);
    }
    println!("cargo:rerun-if-changed=../../proto/grades.proto");
    tonic_prost_build::configure().compile_protos(&["../../proto/grades.proto"], &["../../proto"])?;
    Ok(())
}
