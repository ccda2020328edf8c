"""The explorer: its server (every bad request answered with one clear error, never a crash or a
hang), its sessions (numbers straight from the engine), and the page in real headless Chromium
(Debian's chromium and chromium-driver, driven by Selenium; skipped when they are missing)."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import chainrule as cr
from chainrule.errors import BadInputError
from chainrule.explain.render_text import format_value
from chainrule.explain.seeds import seed_tutorial
from chainrule.explorer import ExplorerServer, GraphSession, SeedSession, explore

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("CHAINRULE_ARTIFACTS", ROOT / "build" / "test-artifacts"))
SEED_WEIGHTS = [0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55]


def _request(server, method, path, body=None, raw=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    connection.request(method, path, body=data, headers=headers or {})
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    kind = response.getheader("Content-Type", "")
    return response.status, (json.loads(payload) if "json" in kind else payload.decode())


@pytest.fixture
def seed_server():
    with ExplorerServer(SeedSession()) as server:
        yield server


def _seed_request(**changes):
    body = {
        "inputs": [0.05, 0.1],
        "targets": [0.5, 0.5],
        "weights": list(SEED_WEIGHTS),
        "biases": None,
        "lr": 0.5,
        "output_activation": "sigmoid",
        "steps": 1,
    }
    body.update(changes)
    return body


# ---- server and sessions ------------------------------------------------------------------------
def test_the_page_and_the_initial_numbers(seed_server):
    status, page = _request(seed_server, "GET", "/")
    assert status == 200 and "<title>chainrule explore</title>" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")  # nothing fetched
    status, initial = _request(seed_server, "GET", "/api/initial")
    assert status == 200 and initial["kind"] == "seed" and initial["weights"] == SEED_WEIGHTS


def test_every_number_is_the_engines(seed_server):
    weights = list(SEED_WEIGHTS)
    weights[4] = 0.41
    status, answer = _request(seed_server, "POST", "/api/compute", _seed_request(weights=weights))
    run = seed_tutorial(weights=tuple(weights))
    assert status == 200
    assert answer["values"] == run.values and answer["gradients"] == run.gradients
    assert answer["updated"] == run.updated
    w5 = next(d for d in answer["explanation"]["derivations"] if d["parameter"] == "w5")
    assert w5["total"] == run.gradients["w5"] and w5["agrees"]
    assert w5["paths"][0]["formulas"] == "1 · (−(t1 − a_o1)) · (a_o1·(1 − a_o1)) · a_h1"
    status, ten = _request(seed_server, "POST", "/api/compute", _seed_request(steps=10))
    tutorial = seed_tutorial(steps=10)
    assert ten["curve"] == [s.values["E_total"] for s in tutorial.steps]
    assert ten["final"] == tutorial.final


@pytest.mark.parametrize(
    "change, message",
    [
        ({"weights": [0.1] * 7}, "weights: expected 8 numbers (w1 w2 w3 w4 w5 w6 w7 w8), got 7"),
        (
            {"weights": SEED_WEIGHTS[:4] + ["x"] + SEED_WEIGHTS[5:]},
            "weights[4] (w5): expected a number, got 'x'",
        ),
        ({"inputs": [0.05, True]}, "inputs[1] (i2): expected a number, got True"),
        ({"lr": 0}, "lr: expected a positive learning rate, got 0.0"),
        ({"lr": "fast"}, "lr: expected a number, got 'fast'"),
        ({"steps": 0}, "steps: expected a whole number from 1 to 1000, got 0"),
        ({"steps": 2.5}, "steps: expected a whole number from 1 to 1000, got 2.5"),
        ({"output_activation": "relu"}, "output_activation: expected 'sigmoid' or 'identity'"),
        ({"biases": [0.35]}, "biases: expected 2 numbers (b1 b2), got 1"),
        ({"colour": "red"}, "unknown field 'colour'; the fields are inputs"),
    ],
)
def test_bad_numbers_get_one_clear_error(seed_server, change, message):
    status, answer = _request(seed_server, "POST", "/api/compute", _seed_request(**change))
    assert status == 400 and message in answer["error"]
    assert _request(seed_server, "GET", "/api/initial")[0] == 200  # still serving


@pytest.mark.parametrize(
    "raw, status, message",
    [
        (b'{"weights": [NaN]}', 400, "NaN is not a number the explorer accepts"),
        (b'{"lr": Infinity}', 400, "Infinity is not a number the explorer accepts"),
        (b"weights=0.4", 400, "not valid JSON"),
        (b"\xff\xfe", 400, "not valid JSON"),
        (b"[1, 2]", 400, "the request must be a JSON object"),
        (b" " * 70_000, 413, "at most 65,536 are read"),
    ],
)
def test_bad_requests_never_stop_the_server(seed_server, raw, status, message):
    got, answer = _request(seed_server, "POST", "/api/compute", raw=raw)
    assert got == status and message in answer["error"]
    assert _request(seed_server, "POST", "/api/compute", _seed_request())[0] == 200


def test_missing_length_unknown_paths_and_a_stalled_client(seed_server):
    connection = socket.create_connection(("127.0.0.1", seed_server.port))
    connection.sendall(b"POST /api/compute HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b" 411 " in connection.recv(4096).split(b"\r\n")[0]
    connection.close()
    assert _request(seed_server, "GET", "/nothing")[0] == 404
    assert _request(seed_server, "GET", "/favicon.ico")[0] == 204
    assert _request(seed_server, "POST", "/api/other", {})[0] == 404
    # a client that sends half a request holds one thread, not the server
    stalled = socket.create_connection(("127.0.0.1", seed_server.port))
    stalled.sendall(b"POST /api/compute HTTP/1.1\r\nContent-Length: 500\r\n\r\n{")
    start = time.perf_counter()
    assert _request(seed_server, "POST", "/api/compute", _seed_request())[0] == 200
    assert time.perf_counter() - start < 5
    stalled.close()


def test_a_taken_port_is_one_clear_error(seed_server):
    with pytest.raises(BadInputError, match=rf"port {seed_server.port} on 127.0.0.1 is in use"):
        ExplorerServer(SeedSession(), port=seed_server.port)


def test_diverging_numbers_are_an_error_not_a_crash(seed_server):
    status, answer = _request(
        seed_server, "POST", "/api/compute", _seed_request(weights=[1e308] * 8, steps=3)
    )
    assert status in (200, 400)
    if status == 400:
        assert "diverged" in answer["error"] or "overflow" in answer["error"]
    assert _request(seed_server, "POST", "/api/compute", _seed_request())[0] == 200


def test_your_own_graph_in_the_explorer():
    W = cr.name(cr.tensor([[0.5, -0.3]], dtype=cr.float64, requires_grad=True), "W", [["a", "b"]])
    x = cr.name(cr.tensor([[1.0], [2.0]], dtype=cr.float64), "x", [["x1"], ["x2"]])
    y = cr.name(cr.tensor([[0.2]], dtype=cr.float64), "y")
    L = cr.name(cr.nn.functional.mse_loss((W @ x).tanh(), y), "L")
    session = GraphSession(L, lr=0.1)
    assert session.names == ["a", "b", "x1", "x2", "y[0,0]"]
    server = explore(L, lr=0.1, open_browser=False, block=False)
    try:
        status, initial = _request(server, "GET", "/api/initial")
        assert initial["kind"] == "graph" and initial["values"]["a"] == 0.5
        status, answer = _request(
            server, "POST", "/api/compute", {"values": {"a": 0.7}, "lr": 0.1, "steps": 3}
        )
        assert status == 200
        # the same numbers by hand, with the engine
        W2 = cr.tensor([[0.7, -0.3]], dtype=cr.float64, requires_grad=True)
        curve = []
        for _ in range(3):
            loss = cr.nn.functional.mse_loss((W2 @ x).tanh(), y)
            curve.append(loss.item())
            (g,) = cr.autograd.grad(loss, [W2])
            with cr.no_grad():
                W2 -= 0.1 * g
        assert answer["curve"] == curve
        assert answer["final"] == {"a": W2.detach().numpy()[0, 0], "b": W2.detach().numpy()[0, 1]}
        status, answer = _request(server, "POST", "/api/compute", {"values": {"c": 1}, "lr": 0.1})
        assert status == 400 and "no leaf named 'c'" in answer["error"]
    finally:
        server.close()


def test_notebook_views_of_every_record():
    run = seed_tutorial()
    for record in (run, run.explanation, run.explanation["w5"]):
        assert "<" in record._repr_html_() and "$" in record._repr_markdown_()


# ---- the page in headless Chromium --------------------------------------------------------------
CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (.[test])")
    if CHROMIUM is None or DRIVER is None:
        pytest.skip("needs Debian's chromium and chromium-driver (.ci/run installs them)")
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download a browser
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--window-size=1440,1100",
        "--disable-dev-shm-usage",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def explore_command():
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "chainrule", "explore", "--no-browser", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/", process
    process.terminate()
    process.wait(timeout=10)


def _settled(driver):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 60).until(
        lambda d: d.execute_script("return document.body.dataset.busy === '0'")
    )


def _text(driver, selector):
    return driver.find_element("css selector", selector).text


@pytest.mark.slow
def test_the_page_in_chromium_follows_every_edit_and_step(browser, explore_command):
    from selenium.webdriver.common.keys import Keys

    url, _ = explore_command
    browser.get(url)
    _settled(browser)
    assert _text(browser, '[data-grad="w5"]') == format_value(seed_tutorial().gradients["w5"])
    # change w5: ∂E_total/∂w5, E_total and the updated w5 follow, as the engine computes them
    field = browser.find_element("id", "in-w5")
    field.clear()
    field.send_keys("0.45", Keys.TAB)
    _settled(browser)
    weights = list(SEED_WEIGHTS)
    weights[4] = 0.45
    run = seed_tutorial(weights=tuple(weights))
    assert _text(browser, '[data-grad="w5"]') == format_value(run.gradients["w5"])
    assert _text(browser, '[data-value-of="E_total"]') == format_value(run.values["E_total"])
    assert _text(browser, '[data-updated="w5"]') == format_value(run.updated["w5"])
    changed = browser.find_elements("css selector", ".changed")
    assert len(changed) > 5  # the numbers that moved are highlighted
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "explorer.png"))
    # a bad number: one clear error on the page, nothing else changes
    field = browser.find_element("id", "in-w5")
    field.clear()
    field.send_keys("abc", Keys.TAB)
    _settled(browser)
    assert _text(browser, "#error") == "weights[4] (w5): expected a number, got 'abc'"
    # reset, then ten steps: the tutorial's own ten steps, to the digits shown
    browser.find_element("id", "reset").click()
    _settled(browser)
    for _ in range(10):
        browser.find_element("id", "step1").click()
        _settled(browser)
    done = subprocess.run(
        [sys.executable, "-m", "chainrule", "tutorial", "--steps", "10", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    tutorial = json.loads(done.stdout)
    curve = json.loads(browser.find_element("id", "curve").get_attribute("data-values"))
    assert curve[:10] == [s["values"]["E_total"] for s in tutorial["steps"]]
    for k in range(1, 9):
        shown = browser.find_element("id", f"in-w{k}").get_attribute("value")
        assert shown == format_value(tutorial["final"][f"w{k}"]), k
    assert _text(browser, "#error") == ""
    browser.find_element("id", "back").click()
    _settled(browser)
    assert len(json.loads(browser.find_element("id", "curve").get_attribute("data-values"))) == 10


# ---- the command ---------------------------------------------------------------------------------
def _start(*args):
    process = subprocess.Popen(
        [sys.executable, "-m", "chainrule", "explore", "--no-browser", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    return process, line


def test_the_command_serves_stops_on_ctrl_c_and_names_a_taken_port():
    import signal

    process, line = _start("--port", "0")
    assert line.startswith("chainrule explore: serving http://127.0.0.1:")
    url = line.split()[3]
    port = int(url.rsplit(":", 1)[1].strip("/"))
    taken = subprocess.run(
        [sys.executable, "-m", "chainrule", "explore", "--no-browser", "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert taken.returncode == 2 and "Traceback" not in taken.stderr
    assert f"port {port} on 127.0.0.1 is in use; pick another with --port N" in taken.stderr
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/api/initial")
    assert json.loads(connection.getresponse().read())["weights"] == SEED_WEIGHTS
    connection.close()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0 and "stopped" in out and "Traceback" not in err


def test_the_command_takes_the_tutorials_options():
    process, line = _start("--port", "0", "--example", "one-weight", "--weights", "0.7")
    try:
        port = int(line.split()[3].rsplit(":", 1)[1].strip("/"))
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/api/initial")
        initial = json.loads(connection.getresponse().read())
        assert initial["kind"] == "graph" and initial["values"]["W"] == 0.7
        body = json.dumps({"values": initial["values"], "lr": initial["lr"], "steps": 1})
        connection.request("POST", "/api/compute", body=body)
        answer = json.loads(connection.getresponse().read())
        assert answer["updated"]["W"] == seed_tutorial_one_weight(0.7).updated["W"]
    finally:
        process.terminate()
        process.wait(timeout=10)
    bad = subprocess.run(
        [sys.executable, "-m", "chainrule", "explore", "--port", "70000"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "a port is a number from 0 to 65535" in bad.stderr


def seed_tutorial_one_weight(weight):
    from chainrule.explain.seeds import one_weight_tutorial

    return one_weight_tutorial(W=weight)
