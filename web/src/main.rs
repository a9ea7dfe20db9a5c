//! The `parley` binary: see `parley --help`.

fn main() {
    parley_models::set_thread_defaults();
    match parley_web::main_with_args(std::env::args_os()) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    }
}
