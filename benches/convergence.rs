fn main() {
    eprintln!("the convergence benchmark is not written yet");
}
