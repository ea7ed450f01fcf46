#!/usr/bin/env python3
"""Drives the controller's dashboard in a real headless Chromium (Debian's, through Playwright's
`executable_path`; no browser download) against a running pool, and checks what a person would see:

  sign-in (a wrong token refused; the token never in the URL), the map with the pool's nodes and GPUs, a vGPU
  slice appearing live when a program starts (no reload) and its views linked to each other, an admin action
  refused for a read-only token, the slice vanishing when the program ends, and an admin's confirmed cordon
  taking effect in the pool. Screenshots go to --screenshots. Prints one JSON line of figures; exit status 1 with
  the failed check's message otherwise.

Usage: dashboard-browser-test.py --url URL --admin-token T --metrics-token T --node NODE --program-json '[…]'
       --screenshots DIR [--chromium PATH]
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

from playwright.sync_api import sync_playwright, expect


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


TLS = None  # the ssl context verifying the controller against the pool's CA bundle (--ca-file)


def api(url, token, path, method="GET"):
    request = urllib.request.Request(url + path, method=method, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(request, timeout=10, context=TLS) as response:
        return json.loads(response.read() or b"null")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--admin-token", required=True)
    parser.add_argument("--metrics-token", required=True)
    parser.add_argument("--node", required=True)
    parser.add_argument("--program-json", required=True, help="argv of a program that holds a vGPU until killed")
    parser.add_argument("--screenshots", required=True)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--ca-file", help="the pool's CA bundle (PEM), for an https URL")
    args = parser.parse_args()
    global TLS
    if args.ca_file:
        import ssl
        TLS = ssl.create_default_context(cafile=args.ca_file)
        # Python verifies the controller against the pool CA first; the browser, which has no per-page trust
        # store, then accepts the certificate this server just proved.
        api(args.url, args.admin_token, "/v1/status")
    os.makedirs(args.screenshots, exist_ok=True)
    shot = lambda page, name: page.screenshot(path=os.path.join(args.screenshots, name + ".png"), full_page=True)
    figures = {}
    program = None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1400, "height": 900}, ignore_https_errors=bool(args.ca_file))
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            page.goto(args.url + "/")
            expect(page.locator("#signin-form")).to_be_visible()
            # A wrong token is refused on the page.
            page.fill("#token", "not-a-token")
            page.click("#signin-button")
            expect(page.locator("#signin-error")).to_contain_text("not accepted")
            # The read-only token signs in; the map shows the pool's node and its GPU.
            page.fill("#token", args.metrics_token)
            page.click("#signin-button")
            expect(page.locator("#app")).to_be_visible()
            expect(page.locator("#who")).to_contain_text("metrics")
            check(args.metrics_token not in page.url, "the token is in the URL")
            check(page.evaluate("sessionStorage.getItem('tessera-token')") == args.metrics_token, "the token is not in sessionStorage")
            check(page.evaluate("localStorage.length") == 0, "something was written to localStorage")
            expect(page.locator(f'.node[data-node="{args.node}"]')).to_be_visible()
            expect(page.locator(f'.gpu[data-gpu="{args.node}/0"]')).to_be_visible()
            expect(page.locator("#live")).to_have_text("live")
            shot(page, "1-signed-in")

            # A program starts: its vGPU slice appears without a reload.
            program = subprocess.Popen(json.loads(args.program_json), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            ready = program.stdout.readline()
            check("READY" in ready, f"the program did not start: {ready} {program.stderr.read() if program.poll() is not None else ''}")
            started = time.monotonic()
            leases = api(args.url, args.admin_token, "/v1/leases")
            check(len(leases) == 1, f"expected one lease, got {leases}")
            lease = leases[0]["id"]
            slice_ = page.locator(f'.gpu[data-gpu="{args.node}/0"] .bar.memory .slice[data-lease="{lease}"]')
            expect(slice_).to_be_visible(timeout=10_000)
            figures["slice_visible_after_ready_s"] = round(time.monotonic() - started, 3)
            width = page.evaluate(f"""() => {{
                const s = document.querySelector('.gpu[data-gpu="{args.node}/0"] .bar.memory .slice[data-lease="{lease}"]');
                return s.getBoundingClientRect().width / s.parentElement.getBoundingClientRect().width; }}""")
            figures["slice_memory_fraction"] = round(width, 3)
            # Views linked to each other: vGPU → GPU → node.
            slice_.click()
            expect(page.locator('#detail h3[data-view="vgpu"]')).to_contain_text(lease)
            shot(page, "2-vgpu-view")
            page.locator('#detail a[data-select="gpu"]').first.click()
            expect(page.locator('#detail h3[data-view="gpu"]')).to_contain_text(f"{args.node}/0")
            expect(page.locator(f'#detail a[data-select="vgpu"][data-id="{lease}/0"]')).to_be_visible()
            page.locator('#detail a[data-select="node"]').first.click()
            expect(page.locator('#detail h3[data-view="node"]')).to_contain_text(args.node)

            # A read-only token's action is refused, after the confirmation.
            page.click('#detail button[data-action="cordon"]')
            expect(page.locator("#confirm")).to_be_visible()
            page.click("#confirm-ok")
            expect(page.locator("#action-result")).to_contain_text("Refused")
            check(not api(args.url, args.admin_token, "/v1/nodes")[0].get("cordoned"), "a metrics token cordoned a node")
            shot(page, "3-refused")

            # The program ends: its slice goes, and the event feed tells.
            program.send_signal(signal.SIGKILL)
            program.wait()
            program = None
            ended = time.monotonic()
            expect(slice_).to_have_count(0, timeout=20_000)
            figures["slice_gone_after_exit_s"] = round(time.monotonic() - ended, 3)
            expect(page.locator('#events li[data-kind="lease-ended"]').first).to_be_visible(timeout=10_000)
            expect(page.locator('#events li[data-kind="admin-refused"]').first).to_be_visible()

            # An admin signs in and cordons the node, after cancelling once.
            page.click("#signout")
            expect(page.locator("#signin-form")).to_be_visible()
            page.fill("#token", args.admin_token)
            page.click("#signin-button")
            expect(page.locator("#who")).to_contain_text("admin")
            page.locator(f'.node[data-node="{args.node}"] .node-title').click()
            page.click('#detail button[data-action="cordon"]')
            page.click("#confirm-cancel")
            check(not api(args.url, args.admin_token, "/v1/nodes")[0].get("cordoned"), "a cancelled cordon took effect")
            page.click('#detail button[data-action="cordon"]')
            page.click("#confirm-ok")
            expect(page.locator("#action-result")).to_contain_text("cordoned")
            expect(page.locator(f'.node[data-node="{args.node}"] > .node-title .tag.warn')).to_have_text("cordoned")
            check(api(args.url, args.admin_token, "/v1/nodes")[0].get("cordoned") is True, "the admin's cordon did not take effect")
            expect(page.locator('#events li[data-kind="cordoned"]').first).to_be_visible()
            shot(page, "4-cordoned")
            page.click('#detail button[data-action="uncordon"]')
            page.click("#confirm-ok")
            expect(page.locator("#action-result")).to_contain_text("uncordoned")
            check(not api(args.url, args.admin_token, "/v1/nodes")[0].get("cordoned"), "uncordon did not take effect")
            audit = api(args.url, args.admin_token, "/v1/audit")
            outcomes = [(a["action"], a["caller"], a["outcome"]) for a in audit]
            for expected in [("cordon", "metrics", "refused"), ("cordon", "admin", "done"), ("uncordon", "admin", "done")]:
                check(expected in outcomes, f"the audit log lacks {expected}: {outcomes}")
            check(not errors, f"the page raised: {errors}")
        except Exception:
            shot(page, "failure")
            raise
        finally:
            if program is not None:
                program.kill()
            browser.close()
    print(json.dumps(figures))


if __name__ == "__main__":
    try:
        main()
    except Failure as failure:
        print(f"dashboard check failed: {failure}", file=sys.stderr)
        sys.exit(1)
