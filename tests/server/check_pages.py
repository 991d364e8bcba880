#!/usr/bin/env python3
"""The dashboard in a real browser: Debian's headless chromium, driven by Selenium, against
`llmtune serve` over the store of real short experiments (tests/server/make_store.cpp).

It loads the pages of the finished grid experiment and checks that each learning-curve chart
has one line per trial with as many points as the store holds (read here with sqlite3), follows
a link from the experiment to a trial, checks that markup in an experiment's name shows as
text and never runs, draws the LoRA-vs-full chart from a demo summary, and watches a running
`llmtune train` grow its curve (the run is paused with SIGSTOP while the page first loads, so
the check does not depend on timing). Screenshots go to --out; the browser's console must stay
free of errors (a refused script or style would show there).

Run by ctest through browser.sh, which skips (or fails under CI=true) without the browser.
"""
import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

SUMMARY_KEYS = {"train_runtime", "train_steps_per_second", "train_loss"}
MARKUP = "<img src=x onerror=window.__xss=1><script>window.__xss=2</script>"
WAIT = 120  # the most seconds to wait for a page or a run: a bound, never a measured time

# Each learning-curve chart's x axis title and its lines' x values.
AXES_JS = """
return [...document.querySelectorAll('canvas[data-metric]')].map((c) => {
  const chart = Chart.getChart(c);
  return {title: chart.options.scales.x.title.text,
          xs: chart.data.datasets.map((d) => d.data.map((p) => p.x))};
});
"""

CHARTS_JS = """
return [...document.querySelectorAll('canvas[data-metric]')].map((c) => ({
  key: c.dataset.group + '/' + c.dataset.metric,
  series: Chart.getChart(c).data.datasets.map((d) => ({trial: d.trialId, n: d.data.length})),
}));
"""


class Server:
    """`llmtune serve --port 0` over a runs directory; the URL is read from its first line."""

    def __init__(self, llmtune, runs):
        self.proc = subprocess.Popen([llmtune, "serve", "--runs", runs, "--port", "0"],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if "http://127.0.0.1:" not in line:
            self.stop()
            sys.exit(f"FAILED: llmtune serve printed {line!r}, not its address")
        self.url = line.split()[2].rstrip("/")

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def expected_points(db, experiment):
    """{"group/metric": {trial id: points}}: one point per step a metric was logged at."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    steps = {}
    rows = con.execute('SELECT m.trial_id, m."group", m.step, m.metrics FROM metrics m JOIN trials t '
                       "ON m.trial_id = t.id WHERE t.experiment_id = ?", (experiment,))
    for trial, group, step, metrics in rows:
        for k, v in json.loads(metrics).items():
            if isinstance(v, (int, float)) and k not in SUMMARY_KEYS:
                steps.setdefault(f"{group}/{k}", {}).setdefault(trial, set()).add(step)
    con.close()
    return {k: {t: len(s) for t, s in by_trial.items()} for k, by_trial in steps.items()}


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"ok: {what}")


def open_page(driver, url):
    driver.get(url)
    wait_for(driver, lambda d: d.execute_script("return document.body.dataset.ready === '1'"),
             f"{url} to load")


def wait_for(driver, cond, what):
    try:
        WebDriverWait(driver, WAIT, poll_frequency=0.2).until(cond)
    except Exception as e:
        raise AssertionError(f"waiting for {what}: {e}") from None


def charts(driver):
    return {c["key"]: {s["trial"]: s["n"] for s in c["series"]} for c in driver.execute_script(CHARTS_JS)}


def screenshot(driver, out, name):
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(max(height, 800), 6000))
    path = os.path.join(out, name)
    driver.save_screenshot(path)
    driver.set_window_size(1400, 1000)
    print(f"screenshot: {path}")


def choose(driver, name, value):
    """Picks `value` in the page's select named `name` (a picker) as a user would."""
    Select(driver.find_element(By.CSS_SELECTOR, f'select[name="{name}"]')).select_by_value(value)


def check_time_axis(driver, expected, where):
    """The curves by time since each trial started: the same lines and points, x in seconds."""
    choose(driver, "x axis", "time")
    axes = driver.execute_script(AXES_JS)
    check(all(a["title"] == "time since the trial started" for a in axes), f"{where}: curves by time")
    check(charts(driver) == expected, f"{where}: by time, the same lines and points")
    check(all(x >= 0 and xs == sorted(xs) for a in axes for xs in a["xs"] for x in xs),
          f"{where}: times from each trial's start, growing with the steps")
    choose(driver, "x axis", "step")
    check(all(a["title"] == "step" for a in driver.execute_script(AXES_JS)), f"{where}: back to steps")


def no_console_errors(driver, where):
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    check(not errors, f"no console errors on {where} {errors}")


def check_experiment(driver, url, db, fixture, out):
    open_page(driver, f"{url}/experiments/1")
    expected = expected_points(db, 1)
    wait_for(driver, lambda d: set(charts(d)) == set(expected), "a chart per metric")
    got = charts(driver)
    for key in ("training/loss", "validation/eval_loss", "training/learning_rate",
                "training/tokens_per_second", "validation/eval_bleu", "validation/eval_accuracy"):
        check(key in got, f"experiment page charts {key}")
    for key, by_trial in expected.items():
        check(got[key] == by_trial, f"{key}: one line per trial with the store's points {by_trial}")
    check_time_axis(driver, got, "experiment page")
    text = driver.find_element(By.ID, "config-text").text
    with open(os.path.join(fixture, "grid.yaml")) as f:
        check(text.strip() == f.read().strip(), "the config as written")
    scatter = driver.execute_script("return Chart.getChart(document.getElementById('hp-scatter')).data.datasets.length")
    check(scatter == len(expected["validation/eval_loss"]), "hyperparameter scatter: a point per evaluated trial")
    rows = lambda: [r.get_attribute("data-key") for r in driver.find_elements(By.CSS_SELECTOR, "table.grid tbody tr")]
    check(rows() == ["1", "2", "3", "4"], "trials table sorted by trial")
    driver.find_elements(By.CSS_SELECTOR, "table.grid thead th")[1].click()
    check(rows() == ["4", "3", "2", "1"], "trials table sorted by trial, descending, on a click")
    no_console_errors(driver, "the experiment page")
    screenshot(driver, out, "experiment.png")
    link = driver.find_element(By.CSS_SELECTOR, "a.trial-link")
    trial = int(link.get_attribute("href").rsplit("/", 1)[1])
    link.click()
    wait_for(driver, lambda d: d.current_url.endswith(f"/trials/{trial}") and
             d.execute_script("return document.body.dataset.ready === '1'"), "the trial page")
    got = charts(driver)
    for key, by_trial in expected.items():
        check(got.get(key) == {trial: by_trial[trial]}, f"trial {trial} {key}: {by_trial[trial]} points")
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    n = con.execute("SELECT count(*) FROM checkpoints WHERE trial_id = ?", (trial,)).fetchone()[0]
    con.close()
    check(len(driver.find_elements(By.CSS_SELECTOR, "table.grid tbody tr")) == n, f"{n} checkpoints listed")
    check("llmtune generate --model" in driver.find_element(By.TAG_NAME, "main").text, "generate commands")
    check(f"trial {trial}:" in driver.find_element(By.ID, "trial-log").text, "the trial's log")
    restarts = driver.find_element(By.ID, "restarts").text
    check("Restarted 1 time(s)" in restarts and f"trial {trial} died (exit 137); restart 1 of 1" in restarts,
          f"the trial's restart and its note from the log: {restarts!r}")
    check_time_axis(driver, got, "trial page")
    no_console_errors(driver, "the trial page")
    screenshot(driver, out, "trial.png")


def check_experiments(driver, url):
    """The list: every experiment, sortable by a click on a column, filtered by text and state."""
    open_page(driver, f"{url}/")
    rows = lambda: [r.get_attribute("data-key") for r in driver.find_elements(By.CSS_SELECTOR, "table.grid tbody tr")]
    check(rows() == ["2", "1"], "experiments listed, the latest first")
    heads = {th.text.rstrip(" ▲▼"): th for th in driver.find_elements(By.CSS_SELECTOR, "table.grid thead th")}
    heads["id"].click()
    check(rows() == ["1", "2"], "sorted by id, ascending, on a click")
    heads["id"].click()
    check(rows() == ["2", "1"], "and descending on a second")
    driver.find_element(By.ID, "filter").send_keys("GRID")
    check(rows() == ["1"], "filtered by name, ignoring case")
    check(driver.find_element(By.CSS_SELECTOR, ".toolbar p").text == "1 of 2 experiment(s)", "the count says so")
    driver.find_element(By.ID, "filter").send_keys(Keys.BACKSPACE * 4)
    check(rows() == ["2", "1"], "an empty filter shows them all")
    Select(driver.find_element(By.ID, "state-filter")).select_by_value("ERROR")
    check(rows() == [], "filtered by state: no experiment failed")
    Select(driver.find_element(By.ID, "state-filter")).select_by_value("COMPLETED")
    check(sorted(rows()) == ["1", "2"], "filtered by state: both completed")


def check_archived(driver, url, llmtune, runs):
    """`experiment archive` hides an experiment from the list unless asked for, and marks it."""
    def cli(verb):
        subprocess.run([llmtune, "experiment", verb, "1", "--runs", runs], check=True,
                       stdout=subprocess.DEVNULL)

    cli("archive")
    open_page(driver, f"{url}/")
    rows = lambda: [r.get_attribute("data-key") for r in driver.find_elements(By.CSS_SELECTOR, "table.grid tbody tr")]
    check(rows() == ["2"], "the archived experiment is hidden from the list")
    count = driver.find_element(By.CSS_SELECTOR, ".toolbar p").text
    check(count == "1 of 2 experiment(s), 1 archived hidden", f"the count says so: {count!r}")
    driver.find_element(By.ID, "archived-filter").click()
    check(rows() == ["2", "1"], "shown with 'show archived'")
    badges = driver.find_elements(By.CSS_SELECTOR, "tr[data-key='1'] .state-archived")
    check(len(badges) == 1 and badges[0].text == "archived", "and marked archived")
    open_page(driver, f"{url}/experiments/1")
    check(driver.find_elements(By.CSS_SELECTOR, "h1 .state-archived"), "its page says archived")
    cli("unarchive")
    open_page(driver, f"{url}/")
    check(rows() == ["2", "1"] and not driver.find_elements(By.CSS_SELECTOR, ".state-archived"),
          "unarchived, it is listed again")
    no_console_errors(driver, "the archived list")


def check_escaping(driver, url, out):
    open_page(driver, f"{url}/")
    names = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "table.grid a")]
    check(MARKUP in names, "the markup name is listed as text")
    open_page(driver, f"{url}/experiments/2")
    check(driver.find_element(By.TAG_NAME, "h1").text.startswith(MARKUP), "the markup name is the heading's text")
    check(driver.execute_script("return window.__xss === undefined"), "the markup never ran")
    check(not driver.find_elements(By.CSS_SELECTOR, "main img, main script"), "no element made from the markup")
    no_console_errors(driver, "the markup experiment's page")
    screenshot(driver, out, "escaping.png")


def check_compare(driver, url, out):
    open_page(driver, f"{url}/compare?trials=1,2,3,4")
    cols = driver.find_elements(By.CSS_SELECTOR, "#compare-table thead th a")
    check(len(cols) == 4, "four trials side by side")
    check(all(len(s) == 4 for s in charts(driver).values()), "every compare chart has four lines")
    bars = driver.execute_script(
        "const c = Chart.getChart(document.getElementById('lora-vs-full-chart'));"
        "return {labels: c.data.labels, sets: c.data.datasets.map((d) => d.label)}")
    check(sorted(bars["labels"]) == ["easy", "medium"] and sorted(bars["sets"]) == ["LoRA", "full"],
          f"LoRA vs full per difficulty from the trials {bars}")
    no_console_errors(driver, "the compare page")
    screenshot(driver, out, "compare.png")


def write_demo_summary(path):
    rows = []
    for i, subset in enumerate(["easy", "medium", "hard"]):
        for j, model in enumerate(["untrained", "base", "LoRA", "full"]):
            rows.append({"subset": subset, "model": model, "bleu": 0.01 * i * j, "sacrebleu": i * j,
                         "exact_match": 0.0, "execution_accuracy": 0.0,
                         "train_seconds": 10.0 * j if j > 1 else 0.0, "steps": 50 if j > 1 else 0})
    with open(path, "w") as f:
        json.dump(rows, f)


def check_demo_compare(driver, url, out):
    open_page(driver, f"{url}/compare")
    bars = driver.execute_script(
        "const c = Chart.getChart(document.getElementById('lora-vs-full-chart'));"
        "return {labels: c.data.labels, sets: c.data.datasets.map((d) => d.label)}")
    check(bars == {"labels": ["easy", "medium", "hard"], "sets": ["untrained", "base", "LoRA", "full"]},
          "the demo's table as a chart")
    check(len(driver.find_elements(By.CSS_SELECTOR, "#lora-vs-full-table tbody tr")) == 12, "and as a table")
    no_console_errors(driver, "the demo compare page")
    screenshot(driver, out, "compare-demo.png")


def wait_until(cond, what):
    end = time.monotonic() + WAIT
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"waiting for {what}")
        time.sleep(0.05)


def check_live(driver, url, llmtune, runs, fixture, out):
    """A running `llmtune train` grows the curve on the open page, with no reload."""
    db = os.path.join(runs, "llmtune.db")
    run = subprocess.Popen([llmtune, "train", os.path.join(fixture, "live.yaml"), "--runs", runs, "--quiet"],
                           start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def rows():
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return con.execute("SELECT count(*) FROM metrics m JOIN trials t ON m.trial_id = t.id "
                               "WHERE t.experiment_id = 3 AND m.\"group\" = 'training'").fetchone()[0]
        except sqlite3.Error:
            return 0
        finally:
            con.close()

    try:
        wait_until(lambda: rows() > 0 or run.poll() is not None, "the live run's first metrics")
        os.killpg(run.pid, signal.SIGSTOP)  # the page loads while the run stands still
        check(run.poll() is None and rows() < 40, "the run is still going")
        open_page(driver, f"{url}/experiments/3")
        first = charts(driver).get("training/loss", {}).get(6, 0)
        check(first >= 1 and driver.find_element(By.ID, "live").is_displayed(), f"the running curve shows {first} point(s), live")
        os.killpg(run.pid, signal.SIGCONT)
        wait_for(driver, lambda d: charts(d).get("training/loss", {}).get(6, 0) > first, "the curve to grow")
        check(True, "the curve grew without a reload")
        check(run.wait(timeout=WAIT) == 0, "the live run finished")
        want = expected_points(db, 3)["training/loss"][6]
        wait_for(driver, lambda d: charts(d).get("training/loss", {}).get(6) == want and
                 not d.find_element(By.ID, "live").is_displayed(), "the page to catch up and stop")
        check(True, f"the finished curve has all {want} points")
        no_console_errors(driver, "the live page")
        screenshot(driver, out, "live.png")
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGCONT)
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()


def browser(args):
    o = Options()
    o.binary_location = args.chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,1000", "--force-device-scale-factor=1"):
        o.add_argument(flag)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=o, service=Service(executable_path=args.chromedriver))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--llmtune", required=True)
    p.add_argument("--fixture", required=True, help="server_fixture's directory")
    p.add_argument("--out", required=True, help="screenshots and scratch files")
    p.add_argument("--chromium", default="/usr/bin/chromium")
    p.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    args = p.parse_args()
    runs = os.path.join(args.fixture, "runs")
    if not os.path.exists(os.path.join(runs, "llmtune.db")):
        print(f"skipped: no fixture store in {runs} (the server_store test makes it; it needs the shared tokenizer)")
        return 77
    shutil.rmtree(args.out, ignore_errors=True)
    demo_runs = os.path.join(args.out, "demo", "runs")  # a demo's layout, written by this test
    shutil.copytree(runs, demo_runs, ignore=shutil.ignore_patterns("*.db-shm"))
    write_demo_summary(os.path.join(args.out, "demo", "demo_summary.json"))
    driver = browser(args)
    servers = []
    try:
        servers.append(Server(args.llmtune, runs))
        check_experiment(driver, servers[0].url, os.path.join(runs, "llmtune.db"), args.fixture, args.out)
        check_experiments(driver, servers[0].url)
        check_escaping(driver, servers[0].url, args.out)
        check_compare(driver, servers[0].url, args.out)
        servers.append(Server(args.llmtune, demo_runs))
        check_demo_compare(driver, servers[1].url, args.out)
        check_archived(driver, servers[1].url, args.llmtune, demo_runs)
        check_live(driver, servers[1].url, args.llmtune, demo_runs, args.fixture, args.out)
    finally:
        driver.quit()
        for s in servers:
            s.stop()
    print("all page checks passed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
