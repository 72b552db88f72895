//! Compiles proto/coresdk/v1/coresdk.proto with protox (pure Rust, so the
//! build needs no protoc) and generates the tonic server and client; lists
//! the example bundle (`examples/policies`) that `--dev` serves, so that the
//! binary carries it and needs no file beside itself.

use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest.join("../../proto");
    let file = proto_root.join("coresdk/v1/coresdk.proto");
    println!("cargo:rerun-if-changed={}", file.display());
    let fds = protox::compile([&file], [&proto_root])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    embed_dev_bundle(&manifest.join("../../examples/policies"))?;
    Ok(())
}

/// Writes `$OUT_DIR/dev_bundle.rs`: `DEV_BUNDLE`, every file of the example
/// bundle as `(relative path, include_bytes!(absolute path))`, sorted.
fn embed_dev_bundle(root: &Path) -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    collect(root, root, &mut files)?;
    files.sort();
    let mut out = String::from(
        "/// The example bundle (`examples/policies`) `--dev` serves: relative paths and contents.\npub const DEV_BUNDLE: &[(&str, &[u8])] = &[\n",
    );
    for (rel, abs) in &files {
        println!("cargo:rerun-if-changed={}", abs.display());
        out.push_str(&format!(
            "    ({rel:?}, include_bytes!({:?})),\n",
            abs.canonicalize()?.display().to_string()
        ));
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR")?).join("dev_bundle.rs");
    std::fs::write(dest, out)?;
    Ok(())
}

fn collect(
    root: &Path,
    dir: &Path,
    out: &mut Vec<(String, PathBuf)>,
) -> Result<(), Box<dyn std::error::Error>> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(root, &path, out)?;
        } else {
            let rel = path
                .strip_prefix(root)?
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push((rel, path));
        }
    }
    Ok(())
}
