#!/usr/bin/env python3
"""Parses a Prometheus text exposition (stdin) with prometheus_client's parser, the one Prometheus' own Python
client ships, and prints its samples as JSON: [{"family", "type", "name", "labels", "value"}]. Tests use it to
check /metrics against what runs; a malformed exposition fails here with the parser's error (exit status 1)."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families


def main() -> int:
    text = sys.stdin.read()
    samples = []
    try:
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                samples.append({"family": family.name, "type": family.type, "name": s.name, "labels": s.labels,
                                "value": s.value})
    except Exception as error:  # the parser raises ValueError and friends on malformed input
        print(f"malformed exposition: {error}", file=sys.stderr)
        return 1
    json.dump(samples, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
