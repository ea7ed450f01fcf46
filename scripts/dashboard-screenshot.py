#!/usr/bin/env python3
"""Signs in to a running controller's dashboard in headless Chromium and saves a screenshot once at least
--min-slices vGPU slices are on the map (e.g. during `tessera demo --keep`), for the README.
Usage: dashboard-screenshot.py URL TOKEN OUT.png [--min-slices N] [--chromium PATH] [--ca-file CA.pem]"""
import argparse
import ssl
import urllib.request

from playwright.sync_api import sync_playwright

parser = argparse.ArgumentParser()
parser.add_argument("url")
parser.add_argument("token")
parser.add_argument("out")
parser.add_argument("--min-slices", type=int, default=1)
parser.add_argument("--chromium", default="/usr/bin/chromium")
parser.add_argument("--ca-file", help="the pool's CA bundle (PEM) for an https URL (tessera demo prints it)")
args = parser.parse_args()
if args.ca_file:
    # The controller proves itself against the pool CA here; the browser, which has no per-page trust store,
    # then accepts the certificate this server just proved.
    request = urllib.request.Request(args.url.rstrip("/") + "/v1/status", headers={"Authorization": "Bearer " + args.token})
    urllib.request.urlopen(request, timeout=10, context=ssl.create_default_context(cafile=args.ca_file)).read()
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
    page = browser.new_page(viewport={"width": 1280, "height": 860}, ignore_https_errors=bool(args.ca_file))
    page.goto(args.url.rstrip("/") + "/")
    page.fill("#token", args.token)
    page.click("#signin-button")
    # Polled from Python: the dashboard's content security policy forbids the string evaluation that
    # wait_for_function would use.
    slices = page.locator(".bar.memory .slice")
    for _ in range(1200):
        if slices.count() >= args.min_slices:
            break
        page.wait_for_timeout(100)
    else:
        raise SystemExit(f"fewer than {args.min_slices} vGPU slices appeared within 2 minutes")
    # At once: a classroom's programs come and go within seconds.
    page.wait_for_timeout(300)
    page.screenshot(path=args.out)
    browser.close()
