//! Headless Chromium (Debian's package, installed by `make test`) loading the bundled pages:
//! BaseFile.html through `serve http`, and the danmaku page in both transport modes.

mod common;
use common::*;

use std::process::Command;

/// Runs headless Chromium with the flags this sandboxed machine needs.
fn chromium(args: &[&str]) -> Vec<u8> {
    // A profile of its own per run: Chromium hands a second launch on a locked profile to the first.
    static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let profile = std::env::temp_dir().join(format!("wirelab-chromium-{}-{n}", std::process::id()));
    let out = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"])
        .args(["--disable-component-update", "--disable-sync", &format!("--user-data-dir={}", profile.display())])
        .args(args)
        .output()
        .expect("chromium (make test installs Debian's chromium package)");
    let _ = std::fs::remove_dir_all(profile);
    out.stdout
}

fn png_size(p: &std::path::Path) -> (u32, u32) {
    let b = std::fs::read(p).unwrap();
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n", "a PNG screenshot");
    (u32::from_be_bytes(b[16..20].try_into().unwrap()), u32::from_be_bytes(b[20..24].try_into().unwrap()))
}

#[test]
fn chromium_loads_base_file_with_every_image_and_the_video() {
    let www = www();
    let log = Temp::path("browser-access.csv");
    let s = serve(&["serve", "http", "--root", www.to_str().unwrap(), "--port", "0", "--access-log", log.to_str().unwrap()]);
    let shot = Temp::path("base-file.png");
    chromium(&["--window-size=1000,800", &format!("--screenshot={}", shot.display()), &format!("{}BaseFile.html", s.url)]);
    assert_eq!(png_size(&shot), (1000, 800));
    assert!(std::fs::metadata(&shot).unwrap().len() > 20_000, "the screenshot shows the images");
    std::thread::sleep(std::time::Duration::from_millis(200));
    let text = std::fs::read_to_string(&log).unwrap();
    let ok: Vec<&str> = text.lines().filter(|l| l.contains(",200,") || l.contains(",206,")).map(|l| l.split(',').nth(3).unwrap().trim_matches('"')).collect();
    assert!(ok.contains(&"/BaseFile.html"));
    for img in ["dino.jpg", "sunset.jpg", "forest.jpg", "city.jpg", "wave.png", "logo.png", "chart.png", "icon.gif", "banner.gif", "photo.jpg"] {
        assert!(ok.contains(&format!("/{img}").as_str()), "Chromium fetched {img}: {ok:?}");
    }
    assert!(ok.contains(&"/clip.webm"), "the video element asked for the clip");
}

#[test]
fn chromium_shows_danmaku_comments_by_polling_and_by_websocket() {
    let s = serve(&["serve", "danmaku", "--port", "0"]);
    for i in 1..=3 {
        let body = format!(r##"{{"text":"browser comment {i}","color":"#ffcc00"}}"##);
        Command::new("curl").args(["-s", "-X", "POST", "--data", &body, &format!("{}danmaku/demo", s.url)]).output().unwrap();
    }
    for mode in ["poll", "ws"] {
        let dom = String::from_utf8(chromium(&["--virtual-time-budget=3000", "--dump-dom", &format!("{}?video=demo&mode={mode}", s.url)])).unwrap();
        for i in 1..=3 {
            assert!(dom.contains(&format!("browser comment {i}")), "{mode}: comment {i} in the chat column");
        }
    }
    let stats: serde_json::Value = serde_json::from_slice(&Command::new("curl").args(["-s", &format!("{}stats", s.url)]).output().unwrap().stdout).unwrap();
    assert!(stats["demo"]["ws_connections"].as_u64().unwrap() >= 1, "the page in ws mode subscribed: {stats}");
    let shot = std::env::temp_dir().join(format!("wirelab-danmaku-{}.png", std::process::id()));
    chromium(&["--window-size=1000,600", "--virtual-time-budget=1500", &format!("--screenshot={}", shot.display()), &format!("{}?video=demo", s.url)]);
    assert_eq!(png_size(&shot), (1000, 600));
    let _ = std::fs::remove_file(shot);
}

#[test]
fn chromium_danmaku_page_shows_the_mode_in_use_and_lets_history_enter_over_time() {
    let s = serve(&["serve", "danmaku", "--port", "0"]);
    for i in 1..=6 {
        let body = format!(r##"{{"text":"history {i}","color":"#66ccff"}}"##);
        Command::new("curl").args(["-s", "-X", "POST", "--data", &body, &format!("{}danmaku/h", s.url)]).output().unwrap();
    }
    let dom = |mode: &str, ms: u32| String::from_utf8(chromium(&[&format!("--virtual-time-budget={ms}"), "--dump-dom", &format!("{}?video=h&mode={mode}", s.url)])).unwrap();
    let ws = dom("ws", 1000);
    assert!(ws.contains(r#"value="ws" checked"#) && !ws.contains(r#"value="poll" checked"#), "with ?mode=ws the WebSocket radio is the checked one");
    let poll = dom("poll", 1000);
    assert!(poll.contains(r#"value="poll" checked"#) && !poll.contains(r#"value="ws" checked"#));
    // Six history comments are all in the chat column at once, but fly in one at a time.
    let flying = |d: &str| d.matches(r#"class="dm""#).count();
    assert!(ws.contains("history 6"));
    let early = flying(&ws);
    assert!((1..6).contains(&early), "after 1 s only some history comments are flying: {early}");
    let later = flying(&dom("ws", 3500));
    assert_eq!(later, 6, "after 3.5 s all six are on their way");
    // A tall window: the 16:9 video is letterboxed, not stretched (look at the screenshot).
    let shot = std::env::temp_dir().join(format!("wirelab-danmaku-tall-{}.png", std::process::id()));
    chromium(&["--window-size=700,900", "--virtual-time-budget=2000", &format!("--screenshot={}", shot.display()), &format!("{}?video=h&mode=ws", s.url)]);
    assert_eq!(png_size(&shot), (700, 900));
    if std::env::var_os("KEEP_SCREENSHOTS").is_none() {
        let _ = std::fs::remove_file(shot);
    }
}
