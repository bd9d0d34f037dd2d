use procrun::{Command, Output};
use tokio::io::AsyncReadExt;
fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut cmd = Command::new("yes");
        cmd.stdout(Output::Raw);
        let mut child = procrun::tokio::spawn(&cmd).unwrap();
        let mut stdout = child.take_stdout().unwrap();
        let mut byte = [0u8];
        assert_eq!(stdout.read(&mut byte).await.unwrap(), 1);
        eprintln!(
            "first read; budget {}",
            tokio::task::coop::has_budget_remaining()
        );
        let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = ran.clone();
        tokio::spawn(async move { flag.store(true, std::sync::atomic::Ordering::Relaxed) });
        let mut reads = 0u64;
        while !ran.load(std::sync::atomic::Ordering::Relaxed) {
            assert_eq!(stdout.read(&mut byte).await.unwrap(), 1);
            reads += 1;
            if reads % 100000 == 0 {
                eprintln!(
                    "{reads} budget {}",
                    tokio::task::coop::has_budget_remaining()
                );
            }
            if reads > 1_000_000 {
                break;
            }
        }
        eprintln!("reads {reads}");
        child.kill().unwrap();
        child.wait().await.unwrap();
    });
}
