fn main() {
    std::process::exit(kpsa::cli::run(std::env::args()));
}
