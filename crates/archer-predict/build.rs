//! With the `neural` feature, libtorch's folder (from archer-neural) becomes the run-time
//! search path of this crate's tests: no LD_LIBRARY_PATH needed.
fn main() {
    if let Ok(lib) = std::env::var("DEP_ARCHER_NEURAL_TORCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
}
