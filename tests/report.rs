//! `rampart report` in a real headless browser: a trail recorded by a real
//! `rampart run` becomes a page that loads with no console message and
//! shows the process tree, the refusals with their rule, the files and
//! hosts, the timeline and the learned policy.

use std::path::Path;
use std::process::Command;

use rampart_e2e::{assert_ok, skip, stderr, stdout, tcp_server, Sandbox};

/// Chromium headless on `page`: (the DOM after its scripts ran, chromium's
/// console lines). `None` when chromium is not installed.
fn browse(page: &Path, screenshot: &Path) -> Option<(String, Vec<String>)> {
    let url = format!("file://{}", page.display());
    let run = |extra: &[&str]| {
        Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
            ])
            .args(["--enable-logging=stderr", "--v=0"])
            .args(extra)
            .arg(&url)
            .output()
    };
    let dom = run(&["--dump-dom"]).ok()?;
    assert!(dom.status.success(), "chromium: {}", stderr(&dom));
    let console = stderr(&dom)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(String::from)
        .collect();
    let shot = format!("--screenshot={}", screenshot.display());
    let o = run(&[&shot, "--window-size=1280,2000"]).ok()?;
    assert!(o.status.success(), "chromium screenshot: {}", stderr(&o));
    Some((stdout(&dom), console))
}

#[test]
fn a_real_trail_renders_in_a_headless_browser() {
    let sb = Sandbox::new();
    // The check itself: a page with a script error is seen as one.
    let bad = sb.path("bad.html");
    std::fs::write(
        &bad,
        "<html><body><script>throw new Error('planted');</script></body></html>",
    )
    .unwrap();
    let Some((_, console)) = browse(&bad, &sb.path("bad.png")) else {
        skip("chromium is not installed (apt-get install chromium)");
        return;
    };
    assert!(
        console.iter().any(|l| l.contains("planted")),
        "the harness sees errors: {console:?}"
    );

    let w = sb.work();
    std::fs::write(w.join("notes.txt"), "n").unwrap();
    let key = sb.home().join(".ssh/id_rsa");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    std::fs::write(&key, "k").unwrap();
    let port = tcp_server();
    let script = format!(
        "cat notes.txt >/dev/null; cat {} >/dev/null; (cat notes.txt >/dev/null); exec 3<>/dev/tcp/127.0.0.1/{port}; echo hi >&3",
        key.display()
    );
    assert_ok(&sb.run(&["bash", "-c", &script]));
    let records = sb.records();
    let pid_of = |f: &dyn Fn(&serde_json::Value) -> bool| {
        records
            .iter()
            .find(|r| f(r))
            .map(|r| r["request"]["pid"].as_i64().unwrap())
            .unwrap()
    };
    let bash = pid_of(&|r| r["tool"] == "net");
    let key_reader =
        pid_of(&|r| r["tool"] == "read" && r["request"]["path"] == key.to_str().unwrap());

    let page = sb.path("report.html");
    let o = sb
        .rampart()
        .args(["report", "-o"])
        .arg(&page)
        .output()
        .unwrap();
    assert_ok(&o);
    let shot = sb.path("report.png");
    let (dom, console) = browse(&page, &shot).expect("chromium ran above");
    assert!(console.is_empty(), "console messages: {console:?}");
    assert!(
        dom.contains("data-ready=\"yes\""),
        "the page's script ran to its end"
    );
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "a screenshot in {}",
        shot.display()
    );

    let section = |id: &str| -> String {
        let start = dom
            .find(&format!("<section id=\"{id}\""))
            .unwrap_or_else(|| panic!("no #{id}"));
        let end = dom[start..].find("</section>").unwrap() + start;
        dom[start..end].to_string()
    };
    // The tree: the key reader (a cat) sits under the shell that started it.
    let tree = section("process-tree");
    let shell_at = tree
        .find(&format!("data-pid=\"{bash}\""))
        .expect("the shell is in the tree");
    let cat_at = tree
        .find(&format!("data-pid=\"{key_reader}\""))
        .expect("the cat is in the tree");
    assert!(cat_at > shell_at && !tree[shell_at..cat_at].contains("</li></ul></section>"));
    assert!(
        tree[cat_at..].contains("would deny"),
        "the cat's refused read is listed under it"
    );

    let denials = section("denials");
    assert!(denials.contains(key.to_str().unwrap()), "{denials}");
    assert!(
        denials.contains("protect-credentials") && denials.contains("would deny"),
        "{denials}"
    );
    assert!(section("files").contains(&w.join("notes.txt").display().to_string()));
    assert!(section("hosts").contains("127.0.0.1"));
    let timeline = section("timeline");
    assert_eq!(
        timeline.matches("<tr").count(),
        records.len() + 1,
        "a row per record"
    );
    assert!(
        section("learned").contains("exec"),
        "{}",
        section("learned")
    );
    assert!(
        !dom.contains("http://") && !dom.contains("https://"),
        "nothing is fetched from elsewhere"
    );
}
