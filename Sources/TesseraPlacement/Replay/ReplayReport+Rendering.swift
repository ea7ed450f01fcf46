/// Text and JSON renderings of a report (hand-written to keep Foundation out of the module).
extension ReplayReport {
    /// One JSON object: `policy`, `seeds`, `unallocated_percent_at_100` and `_at_130` (`mean`, `sd`), `curve`
    /// (per arrived-% bin: mean and sd of the allocation, fragmentation), `per_seed`, timing and latency.
    public var json: String {
        var fields: [String] = []
        fields.append("\"policy\": \"\(policy.rawValue)\"")
        fields.append("\"seeds\": [\(seeds.map(String.init).joined(separator: ", "))]")
        fields.append("\"nodes\": \(nodes)")
        fields.append("\"gpus\": \(gpus)")
        fields.append("\"unallocated_percent_at_100\": \(Self.json(unallocated(atArrivedPercent: 100)))")
        fields.append("\"unallocated_percent_at_130\": \(Self.json(unallocated(atArrivedPercent: 130)))")
        fields.append("\"failures\": \(Self.json(Statistic(perSeed.map { Double($0.failures) })))")
        fields.append("\"seconds_per_replay\": \(Self.json(secondsPerReplay))")
        if let latency {
            fields.append("""
                "query_latency_us": {"queries": \(latency.queries), "p50": \(Self.number(latency.p50Microseconds)), \
                "p99": \(Self.number(latency.p99Microseconds)), "max": \(Self.number(latency.maxMicroseconds))}
                """)
        } else {
            fields.append("\"query_latency_us\": null")
        }
        let points = curve.map { point in
            """
            {"arrived_percent": \(point.arrivedPercent), "allocation_percent": \(Self.number(point.allocationPercent.mean)), \
            "allocation_sd": \(Self.number(point.allocationPercent.sd)), \
            "fragmentation_percent": \(Self.number(point.fragmentationPercent.mean)), \
            "fragmentation_ratio_percent": \(Self.number(point.fragmentationRatioPercent.mean))}
            """
        }
        fields.append("\"curve\": [\n    \(points.joined(separator: ",\n    "))\n  ]")
        let seedsJSON = perSeed.map { seed in
            """
            {"seed": \(seed.seed), "arrivals": \(seed.arrivals), "failures": \(seed.failures), \
            "unallocated_percent_at_100": \(Self.number(seed.unallocatedAt100)), \
            "unallocated_percent_at_130": \(Self.number(seed.unallocatedAt130)), "seconds": \(Self.number(seed.seconds))}
            """
        }
        fields.append("\"per_seed\": [\n    \(seedsJSON.joined(separator: ",\n    "))\n  ]")
        return "{\n  " + fields.joined(separator: ",\n  ") + "\n}"
    }

    /// A readable summary: the curve every 10 % (every 5 % from 90 %), the figures at 100 % and 130 %, timing.
    public var text: String {
        var lines: [String] = []
        let seedText = seeds.count > 1 ? "seeds \(seeds.first!)…\(seeds.last!) (\(seeds.count))" : "seed \(seeds[0])"
        lines.append("policy \(policy.rawValue): \(nodes) GPU nodes, \(gpus) GPUs, \(seedText)")
        lines.append("arrived %   allocated %          unallocated %   fragmented % of GPUs   fragmented % of idle")
        for point in curve where point.arrivedPercent % 10 == 0 || (point.arrivedPercent >= 90 && point.arrivedPercent % 5 == 0) {
            lines.append(
                Self.pad(String(point.arrivedPercent), 9) + "   "
                    + Self.pad(Self.fixed(point.allocationPercent.mean, 2) + " ± " + Self.fixed(point.allocationPercent.sd, 2), 18) + "   "
                    + Self.pad(Self.fixed(100 - point.allocationPercent.mean, 2), 13) + "   "
                    + Self.pad(Self.fixed(point.fragmentationPercent.mean, 2), 20) + "   "
                    + Self.pad(Self.fixed(point.fragmentationRatioPercent.mean, 1), 20))
        }
        for percent in [100, 130] {
            if let stat = unallocated(atArrivedPercent: percent) {
                lines.append("unallocated GPU % at \(percent) % arrived: \(Self.fixed(stat.mean, 2)) ± \(Self.fixed(stat.sd, 2))")
            }
        }
        let failures = Statistic(perSeed.map { Double($0.failures) })
        lines.append("failed pods per replay: \(Self.fixed(failures.mean, 1)) ± \(Self.fixed(failures.sd, 1))")
        lines.append("time per replay: \(Self.fixed(secondsPerReplay.mean, 3)) s")
        if let latency {
            lines.append("placement query latency: p50 \(Self.fixed(latency.p50Microseconds, 1)) µs, p99 \(Self.fixed(latency.p99Microseconds, 1)) µs, max \(Self.fixed(latency.maxMicroseconds, 1)) µs over \(latency.queries) queries")
        }
        return lines.joined(separator: "\n")
    }

    private static func json(_ stat: Statistic?) -> String {
        guard let stat else { return "null" }
        return "{\"mean\": \(number(stat.mean)), \"sd\": \(number(stat.sd))}"
    }

    private static func number(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "null" }
        return fixed(value, 4)
    }

    /// `value` with `digits` decimals.
    static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return "nan" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        let whole = Int(scaled / scale)
        let fraction = Int(scaled - Double(whole) * scale)
        let sign = value < 0 && scaled != 0 ? "-" : ""
        guard digits > 0 else { return sign + String(whole) }
        let fractionText = String(fraction)
        return sign + String(whole) + "." + String(repeating: "0", count: digits - fractionText.count) + fractionText
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }
}
