//! The speed limit kpsa's scan is measured against: saphyr-parser's raw event
//! parse of the same file, single-threaded, building nothing.
//!
//! `cargo run --release --example raw_parse -- FILE`

fn main() {
    let path = std::env::args().nth(1).expect("usage: raw_parse FILE");
    let text = std::fs::read_to_string(&path).expect("readable UTF-8 file");
    let start = std::time::Instant::now();
    let mut events = 0usize;
    for event in saphyr_parser::Parser::new_from_str(&text) {
        event.expect("valid YAML");
        events += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    let mb = text.len() as f64 / 1e6;
    println!(
        "{events} events, {mb:.1} MB in {secs:.3} s: {:.1} MB/s",
        mb / secs
    );
}
