use sandbox::{Command, Limits, Sandbox, SandboxConfig};

#[tokio::test]
async fn smoke() {
    let sb = Sandbox::new(SandboxConfig::default()).unwrap();
    let b = sb.new_box().unwrap();
    b.write_file(
        "main.py",
        b"import os,sys\nprint('hello', os.getuid(), os.getcwd(), sys.stdin.read())",
    )
    .unwrap();
    let mut c = Command::new("/usr/bin/python3", Limits::RUN_DEFAULTS);
    c.args(["main.py"]).stdin(b"in".to_vec());
    let r = sb.run(&b, &c).await.unwrap();
    eprintln!("{:?} {}", r, String::from_utf8_lossy(&r.stderr.bytes));
    assert_eq!(
        String::from_utf8_lossy(&r.stdout.bytes),
        "hello 1000 /box in\n"
    );
}
