//! Records libtorch's folder (and passes it on to dependent crates' build scripts) as the run-time search path (rpath) of this crate's tests and
//! examples, so they find libtorch without LD_LIBRARY_PATH, and libtorch's version for the
//! provenance of every result. torch-sys reports the folder through its `links = "tch"`
//! metadata; the path is made canonical, so that binaries keep working when the checkout's
//! `.libtorch` link moves.
fn main() {
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        return;
    };
    let lib = std::fs::canonicalize(&lib).unwrap_or_else(|_| lib.into());
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    println!("cargo:libtorch_lib={}", lib.display());
    let torch_dir = lib.parent().unwrap_or(&lib);
    println!(
        "cargo:rustc-env=ARCHER_LIBTORCH_DIR={}",
        torch_dir.display()
    );
    let version = std::fs::read_to_string(torch_dir.join("version.py"))
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("__version__ = "))
                .map(|v| v.trim().trim_matches('\'').to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=ARCHER_LIBTORCH_VERSION={version}");
}
