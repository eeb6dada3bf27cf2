//! The scheduler's page in a real headless Chromium, driven through
//! chromedriver (WebDriver) with fantoccini: it loads from a running
//! scheduler, lists the jobs, draws the chart, and marks a failed run.
//! scripts/test.sh installs Debian's `chromium` and `chromium-driver`; a
//! missing browser fails this test, it never skips.
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};
use tests::{wait_for_count, TestDb};

use crate::ops::{try_get, Config, Scheduler};

/// chromedriver on a free port of its own, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Self {
        let exe = std::env::var("SITEJOBS_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(&exe)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {exe} ({e}): install chromium and chromium-driver (scripts/test.sh does)")
            });
        let url = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        while try_get(&format!("{url}/status"), None).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "chromedriver never answered on {url}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { child, url }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the screenshot goes: `$SITEJOBS_SCREENSHOT`, else beside the binary
/// under test (docs/img/dashboard.png is a copy of one).
fn screenshot_path() -> std::path::PathBuf {
    std::env::var("SITEJOBS_SCREENSHOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| tests::sitejobs_bin().with_file_name("dashboard.png"))
}

#[tokio::test]
async fn the_page_in_a_real_browser_shows_the_jobs_the_chart_and_a_failed_run() {
    let t = TestDb::new().await;
    let config = Config::new(
        &t,
        "[[job]]\nname = \"purge-emails\"\ncron = \"* * * * * *\"\nargs = [\"--retention-days\", \"14\"]\n\n\
         [[job]]\nname = \"noop\"\ncron = \"*/2 * * * * *\"\ntimezone = \"Europe/Zagreb\"\nargs = [\"--fail\", \"--sleep-ms\", \"200\"]\n",
    );
    let s = Scheduler::start(&t.url, config.path(), &[]);
    wait_for_count(
        &t.db,
        "SELECT count(*) FROM job_runs WHERE job = 'purge-emails' AND status = 'ok'",
        3,
    )
    .await;
    wait_for_count(
        &t.db,
        "SELECT count(*) FROM job_runs WHERE job = 'noop' AND status = 'error'",
        2,
    )
    .await;

    let driver = Driver::start();
    let profile = std::env::temp_dir().join(format!("{}-chromium", t.name));
    let chromium =
        std::env::var("SITEJOBS_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--window-size=1100,1500",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let c = ClientBuilder::native()
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session through chromedriver");
    c.goto(&format!("{}/", s.base))
        .await
        .expect("load the page");

    let title = c.title().await.expect("title");
    assert!(title.contains("1 failing"), "{title}");
    let entries = c
        .find_all(Locator::Css("#schedule tr.entry"))
        .await
        .expect("schedule rows");
    assert_eq!(entries.len(), 2);
    let zagreb = entries[1].text().await.expect("text");
    assert!(
        zagreb.contains("noop") && zagreb.contains("Europe/Zagreb"),
        "{zagreb}"
    );

    for job in ["purge-emails", "noop"] {
        let section = c
            .find(Locator::Css(&format!("section.job[data-job='{job}']")))
            .await
            .unwrap_or_else(|e| panic!("no section for {job}: {e}"));
        let chart = section
            .find(Locator::Css("svg.chart"))
            .await
            .expect("a chart");
        let dots = chart.find_all(Locator::Css("circle")).await.expect("dots");
        assert!(dots.len() >= 2, "{job}: {} dots", dots.len());
    }
    let noop = c
        .find(Locator::Css("section.job[data-job='noop']"))
        .await
        .expect("noop's section");
    assert!(noop
        .attr("class")
        .await
        .expect("class")
        .is_some_and(|c| c.contains("failing")));
    let failed_row = noop
        .find(Locator::Css("tr.run.failed"))
        .await
        .expect("a failed run row");
    let row = failed_row.text().await.expect("row text");
    assert!(
        row.contains("error") && row.contains("noop failed"),
        "{row}"
    );
    assert!(!noop
        .find_all(Locator::Css("svg.chart circle.failed"))
        .await
        .expect("failed dots")
        .is_empty());
    // Marked for the eye, not only in the markup: the browser paints it red.
    let background = c
        .execute(
            "return getComputedStyle(document.querySelector('tr.run.failed')).backgroundColor",
            vec![],
        )
        .await
        .expect("computed style");
    assert_eq!(background, "rgb(255, 235, 233)");
    let ok_rows = c
        .find_all(Locator::Css(
            "section.job[data-job='purge-emails'] tr.run.failed",
        ))
        .await
        .expect("rows");
    assert!(ok_rows.is_empty(), "purge-emails has no failed run");

    let png = c.screenshot().await.expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(screenshot_path(), &png).expect("save the screenshot");
    c.close().await.expect("close the session");
    drop(driver);
    let _ = std::fs::remove_dir_all(&profile);
    assert_eq!(s.stop(), Some(0));
}
