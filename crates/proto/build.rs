//! Generates the gRPC code of proto/grades.proto.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A vendored protoc, so building needs nothing installed beyond Rust.
    if std::env::var_os("PROTOC").is_none() {
        std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?);
    }
    println!("cargo:rerun-if-changed=../../proto/grades.proto");
    // The encoded descriptors too, for grpc-server's reflection service (grpcurl, Postman).
    let descriptors = std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("grades_descriptor.bin");
    tonic_prost_build::configure().file_descriptor_set_path(descriptors).compile_protos(&["../../proto/grades.proto"], &["../../proto"])?;
    Ok(())
}
